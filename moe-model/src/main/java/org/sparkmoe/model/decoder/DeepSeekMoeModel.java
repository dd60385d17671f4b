package org.sparkmoe.model.decoder;

import java.util.ArrayList;
import java.util.List;
import org.sparkmoe.model.attention.AttentionScratch;
import org.sparkmoe.model.attention.CausalSelfAttention;
import org.sparkmoe.model.attention.KvCache;
import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GradientWrites;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.embedding.Embedding;
import org.sparkmoe.model.ffn.FeedForward;
import org.sparkmoe.model.ffn.FfnScratch;
import org.sparkmoe.model.ffn.SwiGluFfn;
import org.sparkmoe.model.loss.CrossEntropyLoss;
import org.sparkmoe.model.moe.ExpertExchange;
import org.sparkmoe.model.moe.ExpertLoads;
import org.sparkmoe.model.moe.ExpertPlacement;
import org.sparkmoe.model.moe.GroupedExperts;
import org.sparkmoe.model.moe.MoeLayer;
import org.sparkmoe.model.moe.MoeScratch;
import org.sparkmoe.model.moe.RoutedExperts;
import org.sparkmoe.model.moe.Router;
import org.sparkmoe.model.moe.RoutingAblation;
import org.sparkmoe.model.norm.RmsNorm;

/**
 * The whole DeepSeekMoE decoder (as the reference {@code modeling_deepseek.py} of DeepSeekMoE 16B builds it) on one
 * {@link Backend}: embedding, pre-norm layers with causal MHA and dense or MoE SwiGLU MLPs, final RMSNorm, untied
 * head, cross-entropy over shifted targets.
 *
 * <p>Order of work for one micro-batch: {@link #loadBatch} uploads inputs and shifted targets; {@link #forward}
 * runs embedding → layers → norm → head → fused cross-entropy (which leaves ∂L/∂logits in the logits buffer when
 * training); {@link #backward} runs the layers in reverse, accumulating into the gradient arena. Activations for
 * up to {@code maxRows} = micro-batch·seqLen tokens are allocated once: what forward saves for backward per layer;
 * once for all layers the backward-only buffers and those of what backward recomputes (each SwiGLU's h, optionally
 * the attention's q, k, v) ({@link AttentionScratch}, {@link FfnScratch}, {@link MoeScratch}).
 * A model built without training ({@code training=false}) has no gradient arena and no backward buffers, and its
 * layers share one set of activations ({@link Activations}): what scoring and generation need, nothing more; such a
 * model also runs {@link #forwardCached}, which takes new tokens against a {@link KvCache} (generation).
 *
 * <p>Scalars (fp32, read with {@link #readScalars}): [0] sum of token losses; for MoE layer j (in layer order)
 * [1+3j] expert balance loss, [2+3j] device balance loss, [3+3j] mean router entropy; [last] Σ grad².
 *
 * <p>Legend: R rows = B·T, D width, V vocabulary, N rows whose logits are wanted.
 */
public final class DeepSeekMoeModel {

    private final ModelConfig config;
    private final Backend backend;
    private final Parameters params;
    private final int maxRows;
    private final Embedding embedding;
    private final List<DecoderLayer> layers = new ArrayList<>();
    private final List<MoeLayer> moeLayers = new ArrayList<>();
    private final RmsNorm finalNorm;
    private final CrossEntropyLoss loss;
    private final Tensor head_VD;
    private final Tensor dHead_VD;
    private final Tensor tokens_R;
    private final Tensor targets_R;
    private final Tensor slots_R;
    private final Tensor positions_R;
    private final boolean training;
    private final Tensor[] residual_RD;
    private final Tensor tmp_RD;
    private final Tensor dXn_RD;
    private final Tensor dResid_RD;
    private final Tensor xnF_RD;
    private final Tensor logits_RV;
    private final Tensor scalars;
    private final int[] hostTokens;
    private final int[] hostTargets;
    private final PhaseTimer timer = new PhaseTimer();
    private final AttentionScratch attentionScratch;
    private final FfnScratch ffnScratch;
    private final MoeScratch moeScratch;
    private final ExpertLoads expertLoads;
    private final GradientWrites gradientWrites;
    private final ExpertParallelRanks ranks;
    private final ExpertExchange.Buffers exchangeBuffers;

    /** A model for training (gradients, backward buffers, activations per layer) of up to {@code maxRows} tokens. */
    public DeepSeekMoeModel(ModelConfig config, Backend backend, int maxRows) {
        this(config, backend, maxRows, true, null, false);
    }

    /** A model of up to {@code maxRows} tokens per forward; without {@code training}, a forward-only one. */
    public DeepSeekMoeModel(ModelConfig config, Backend backend, int maxRows, boolean training) {
        this(config, backend, maxRows, training, null, false);
    }

    /**
     * A model for training that is a rank of an expert-parallel group (docs/expert-parallel.md): its parameters are
     * the replicated ones and its block of routed experts ({@link ExpertPlacement} of its rank in
     * {@code expertParallel}); every MoE layer exchanges token rows with the other ranks over {@code expertParallel},
     * so all ranks must run every forward and backward together. With a collective of one rank the exchange still
     * runs (to itself). Null: the whole model, as {@link #DeepSeekMoeModel(ModelConfig, Backend, int)}.
     */
    public DeepSeekMoeModel(ModelConfig config, Backend backend, int maxRows, Collective expertParallel) {
        this(config, backend, maxRows, true, expertParallel, false);
    }

    /**
     * A model for training, as {@link #DeepSeekMoeModel(ModelConfig, Backend, int, Collective)}; with
     * {@code recomputeAttention} its attention layers keep no q, k, v: backward computes them again from the normed
     * input each layer keeps ({@link CausalSelfAttention}), so the layers share one set.
     */
    public DeepSeekMoeModel(ModelConfig config, Backend backend, int maxRows, Collective expertParallel,
                            boolean recomputeAttention) {
        this(config, backend, maxRows, true, expertParallel, recomputeAttention);
    }

    private DeepSeekMoeModel(ModelConfig config, Backend backend, int maxRows, boolean training,
                             Collective expertParallel, boolean recomputeAttention) {
        this.config = config;
        this.backend = backend;
        this.maxRows = maxRows;
        this.training = training;
        ExpertPlacement placement = expertParallel == null ? null
                : ExpertPlacement.of(config, expertParallel.rank(), expertParallel.size());
        this.params = new Parameters(backend, ParameterLayout.of(config, placement), training);
        this.ranks = placement == null ? null
                : new ExpertParallelRanks(backend, expertParallel, placement, config, params.layout());
        this.exchangeBuffers = placement == null ? null : ExpertExchange.Buffers.allocate(backend, placement, maxRows,
                config.numExpertsPerTok(), config.hiddenSize());
        Activations activations = new Activations(backend, training);
        int d = config.hiddenSize();
        long rd = (long) maxRows * d;
        this.scalars = backend.allocate("scalars", DType.F32, 2 + 3L * config.moeLayerCount());
        this.attentionScratch = training ? AttentionScratch.allocate(backend, maxRows, d, recomputeAttention) : null;
        int widest = widestFfn(config);
        this.ffnScratch = training && widest > 0 ? FfnScratch.allocate(backend, maxRows, widest) : null;
        this.expertLoads = new ExpertLoads(backend, config.moeLayerCount(), config.nRoutedExperts());
        this.moeScratch = training && config.moeLayerCount() > 0 ? MoeScratch.allocate(backend, maxRows,
                config.numExpertsPerTok(), d, config.moeIntermediateSize(), config.nRoutedExperts(),
                expertRows(placement), placement != null) : null;
        this.gradientWrites = training ? new GradientWrites() : null;
        this.embedding = new Embedding(backend, params.value("model.embed_tokens.weight"),
                params.grad("model.embed_tokens.weight"), gradientWrites, d);
        float eps = (float) config.rmsNormEps();
        Tensor xn_RD = backend.allocate("xn", DType.F32, rd);
        for (int l = 0; l < config.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            RmsNorm norm1 = new RmsNorm(backend, activations, params.value(p + "input_layernorm.weight"),
                    params.grad(p + "input_layernorm.weight"), gradientWrites, d, eps, maxRows);
            String[] proj = {"q_proj", "k_proj", "v_proj", "o_proj"};
            Tensor[] w = new Tensor[4];
            Tensor[] g = new Tensor[4];
            for (int i = 0; i < 4; i++) {
                w[i] = params.value(p + "self_attn." + proj[i] + ".weight");
                g[i] = params.grad(p + "self_attn." + proj[i] + ".weight");
            }
            CausalSelfAttention attention = new CausalSelfAttention(backend, activations, w, training ? g : null,
                    gradientWrites, d, config.numHeads(), (float) config.ropeTheta(), maxRows, attentionScratch);
            RmsNorm norm2 = new RmsNorm(backend, activations, params.value(p + "post_attention_layernorm.weight"),
                    params.grad(p + "post_attention_layernorm.weight"), gradientWrites, d, eps, maxRows);
            FeedForward mlp = config.isMoeLayer(l) ? moe(l, p, maxRows, activations, expertParallel, placement)
                    : FeedForward.dense(swiGlu(p + "mlp.", config.intermediateSize(), maxRows, activations));
            layers.add(new DecoderLayer(activations, norm1, attention, norm2, mlp, xn_RD, rd, timer,
                    config.isMoeLayer(l) ? PhaseTimer.Phase.EXPERTS : PhaseTimer.Phase.DENSE_FFN));
        }
        this.finalNorm = new RmsNorm(backend, activations, params.value("model.norm.weight"),
                params.grad("model.norm.weight"), gradientWrites, d, eps, maxRows);
        this.head_VD = params.value("lm_head.weight");
        this.dHead_VD = params.grad("lm_head.weight");
        this.loss = new CrossEntropyLoss(backend, maxRows);
        this.tokens_R = backend.allocate("tokens", DType.I32, maxRows);
        this.targets_R = backend.allocate("targets", DType.I32, maxRows);
        // Generation's rows carry their own cache row and position (forwardCached); training never needs them.
        this.slots_R = training ? null : backend.allocate("kv cache slots", DType.I32, maxRows);
        this.positions_R = training ? null : backend.allocate("positions", DType.I32, maxRows);
        // Backward reads every layer's input; forward alone needs two, used in turn.
        this.residual_RD = new Tensor[config.numLayers() + 1];
        for (int l = 0; l <= config.numLayers(); l++) {
            residual_RD[l] = training || l < 2 ? backend.allocate("residual " + l, DType.F32, rd) : residual_RD[l % 2];
        }
        this.tmp_RD = backend.allocate("tmp", DType.F32, rd);
        this.dXn_RD = training ? backend.allocate("dxn", DType.F32, rd) : null;
        this.dResid_RD = training ? backend.allocate("dresid", DType.F32, rd) : null;
        this.xnF_RD = backend.allocate("xn final", DType.F32, rd);
        this.logits_RV = backend.allocate("logits", DType.F32, (long) maxRows * config.vocabSize());
        this.hostTokens = new int[maxRows];
        this.hostTargets = new int[maxRows];
    }

    /** The widest dense FFN of {@code config}: the shared experts' fused width or the dense layers' (0 if none). */
    public static int widestFfn(ModelConfig config) {
        return Math.max(config.sharedIntermediateSize(),
                config.moeLayerCount() < config.numLayers() ? config.intermediateSize() : 0);
    }

    private SwiGluFfn swiGlu(String prefix, int width, int rows, Activations activations) {
        String[] proj = {"gate_proj", "up_proj", "down_proj"};
        Tensor[] w = new Tensor[3];
        Tensor[] g = new Tensor[3];
        for (int i = 0; i < 3; i++) {
            w[i] = params.value(prefix + proj[i] + ".weight");
            g[i] = params.grad(prefix + proj[i] + ".weight");
        }
        return new SwiGluFfn(backend, activations, w, training ? g : null, gradientWrites, config.hiddenSize(), width,
                rows, ffnScratch);
    }

    /**
     * Rows the experts of one MoE layer compute at most: every slot, or what an expert-parallel rank can receive (its
     * buffers start at the slots and grow only as far as the routing's imbalance takes them).
     */
    private long expertRows(ExpertPlacement placement) {
        return placement == null ? (long) maxRows * config.numExpertsPerTok()
                : placement.maxReceivedRows(maxRows, config.numExpertsPerTok());
    }

    private MoeLayer moe(int layer, String p, int rows, Activations activations, Collective expertParallel,
                         ExpertPlacement placement) {
        String gate = p + "mlp.gate.weight";
        Router router = new Router(backend, activations, config, config.hasRouterWeights() ? params.value(gate) : null,
                config.hasRouterWeights() ? params.grad(gate) : null, gradientWrites, rows, moeScratch);
        String[] proj = {"gate_proj", "up_proj", "down_proj"};
        Tensor[] w = new Tensor[3];
        Tensor[] g = new Tensor[3];
        int first = placement == null ? 0 : placement.firstExpert();
        int held = placement == null ? config.nRoutedExperts() : placement.localExperts();
        for (int i = 0; i < 3; i++) {
            w[i] = params.stackedValue(p + "mlp.experts." + first + "." + proj[i] + ".weight", held);
            g[i] = params.stackedGrad(p + "mlp.experts." + first + "." + proj[i] + ".weight", held);
        }
        int k = config.numExpertsPerTok();
        int d = config.hiddenSize();
        GroupedExperts grouped = new GroupedExperts(backend, activations, w, training ? g : null, gradientWrites, d,
                config.moeIntermediateSize(), (long) rows * k, expertRows(placement), moeScratch);
        ExpertExchange exchange = placement == null ? null
                : new ExpertExchange(backend, expertParallel, placement, rows, k, d, exchangeBuffers, timer);
        int loadLayer = moeLayers.size();
        RoutedExperts experts = new RoutedExperts(backend, activations, grouped, exchange, config.nRoutedExperts(),
                k, d, rows, expertLoads, loadLayer, moeScratch);
        SwiGluFfn shared = config.nSharedExperts() > 0
                ? swiGlu(p + "mlp.shared_experts.", config.sharedIntermediateSize(), rows, activations) : null;
        MoeLayer moeLayer = new MoeLayer(layer, backend, config, router, experts, shared, scalars,
                1 + 3 * moeLayers.size(), expertLoads, loadLayer, timer);
        moeLayers.add(moeLayer);
        return moeLayer;
    }

    public ModelConfig config() {
        return config;
    }

    public Parameters parameters() {
        return params;
    }

    public int maxRows() {
        return maxRows;
    }

    /** Whether this model was built for training (gradients, backward buffers); false: forward only. */
    public boolean training() {
        return training;
    }

    /** The MoE layers in layer order. */
    public List<MoeLayer> moeLayers() {
        return moeLayers;
    }

    /**
     * Routes every MoE layer's coming evaluation forwards as {@code ablation} says, or as trained when null. A
     * training forward refuses an ablation; checked against the config here, so a bad one fails before any work.
     */
    public void setRoutingAblation(RoutingAblation ablation) {
        if (ablation != null) {
            ablation.checkFits(config);
        }
        for (MoeLayer m : moeLayers) {
            m.setAblation(ablation);
        }
    }

    /** Index of the Σ grad² scalar. */
    public int gradNormSlot() {
        return (int) scalars.size() - 1;
    }

    /**
     * Fills the parameters with the paper's init ({@link ParameterInit}; identical on every backend). An
     * expert-parallel rank draws the whole model's stream and keeps its own parameters, so its values are the whole
     * model's.
     */
    public void initialize(long seed) {
        ParameterLayout mine = params.layout();
        ParameterLayout whole = ranks == null ? mine : ParameterLayout.of(config);
        ParameterInit.generate(whole, config.initStd(), seed, (spec, host) -> {
            if (mine.contains(spec.name())) {
                backend.upload(host, 0, params.values(), mine.get(spec.name()).offset(), host.length);
            }
        });
    }

    /**
     * Uploads sequences {@code [first, first + batch)} of {@code tokens} (rows of {@code seqLenPlusOne} ids):
     * inputs are ids 0..T-1, targets ids 1..T of each row. A negative id is padding: it is never a target, and as
     * an input it reads token 0. Returns the number of unmasked targets.
     */
    public int loadBatch(int[] tokens, int first, int batch, int seqLenPlusOne) {
        int seqLen = seqLenPlusOne - 1;
        int rows = batch * seqLen;
        checkRows(rows);
        int valid = 0;
        for (int b = 0; b < batch; b++) {
            int base = (first + b) * seqLenPlusOne;
            for (int t = 0; t < seqLen; t++) {
                int in = tokens[base + t];
                int target = tokens[base + t + 1];
                hostTokens[b * seqLen + t] = Math.max(in, 0);
                hostTargets[b * seqLen + t] = target < 0 ? -1 : target;
                if (target >= 0) {
                    valid++;
                }
            }
        }
        backend.uploadInts(hostTokens, 0, tokens_R, 0, rows);
        backend.uploadInts(hostTargets, 0, targets_R, 0, rows);
        return valid;
    }

    private void checkRows(int rows) {
        if (rows > maxRows) {
            throw new IllegalArgumentException("micro-batch of " + rows + " tokens exceeds the " + maxRows
                    + " the model's activations were sized for");
        }
    }

    /**
     * Forward through the loss for the loaded batch. Leaves {@code gradScale · ∂CE/∂logits} in the logits buffer;
     * {@code lossScale} is this micro-batch's share of the optimiser batch (scales the balance losses).
     */
    public void forward(int batch, int seqLen, float gradScale, float lossScale, boolean training) {
        int rows = batch * seqLen;
        checkRows(rows);
        int d = config.hiddenSize();
        int v = config.vocabSize();
        embedding.forward(hostTokens, residual_RD[0], rows);
        for (MoeLayer m : moeLayers) {
            m.setLossScale(lossScale);
        }
        layersAndFinalNorm(batch, seqLen, training);
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.HEAD_LOSS);
        backend.matmulNT(rows, v, d, xnF_RD, head_VD, logits_RV, false);
        loss.forwardBackward(logits_RV, targets_R, rows, v, gradScale, scalars, 0);
        timer.exit(outer);
    }

    /** Backward of the last {@link #forward}, accumulating into the gradient arena. */
    public void backward(int batch, int seqLen) {
        backward(batch, seqLen, true);
    }

    /**
     * The backward of the last training forward, its parameters' gradients added into the gradient arena or, without
     * {@code accumulateGradients}, written over it (a step's first micro-batch: the arena needs no zeroing).
     */
    public void backward(int batch, int seqLen, boolean accumulateGradients) {
        requireTraining("backward");
        gradientWrites.overwrite(!accumulateGradients);
        int rows = batch * seqLen;
        int d = config.hiddenSize();
        int v = config.vocabSize();
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.HEAD_LOSS);
        try (HeldOperands _ = backend.holdOperands(logits_RV)) {
            backend.matmulTN(v, d, rows, logits_RV, xnF_RD, dHead_VD, accumulateGradients);
            backend.matmulNN(rows, d, v, logits_RV, head_VD, dXn_RD, false);
        }
        timer.exit(outer);
        backend.fill(dResid_RD, 0f);
        finalNorm.backward(dXn_RD, residual_RD[layers.size()], dResid_RD, rows);
        for (int l = layers.size() - 1; l >= 0; l--) {
            layers.get(l).backward(dResid_RD, residual_RD[l], dXn_RD, batch, seqLen);
        }
        embedding.backward(dResid_RD, hostTokens, rows);
    }

    /**
     * The layers on the embedded batch in {@code residual_RD[0]}, then the final norm into {@code xnF_RD}: each layer
     * hands the next its output as two tensors to add (the add runs fused with the next norm), the last one's sum
     * lands in {@code residual_RD[L]}.
     */
    private void layersAndFinalNorm(int batch, int seqLen, boolean training) {
        Tensor base = null;
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).forward(base, residual_RD[l], tokens_R, tmp_RD, batch, seqLen, training);
            base = layers.get(l).outputBase();
        }
        finalNorm.forwardResidual(base, tmp_RD, residual_RD[layers.size()], xnF_RD, batch * seqLen);
    }

    /** Per-token losses of the last forward ({@code [R]}, 0 where masked). */
    public float[] readTokenLosses(int rows) {
        float[] out = new float[rows];
        backend.download(loss.losses(), 0, out, 0, rows);
        return out;
    }

    /** Forward without the loss for the loaded batch; returns the logits {@code [R, V]} (for scoring and tests). */
    public float[] forwardLogits(int batch, int seqLen) {
        int rows = batch * seqLen;
        checkRows(rows);
        int d = config.hiddenSize();
        int v = config.vocabSize();
        embedding.forward(hostTokens, residual_RD[0], rows);
        layersAndFinalNorm(batch, seqLen, false);
        backend.matmulNT(rows, v, d, xnF_RD, head_VD, logits_RV, false);
        float[] out = new float[rows * v];
        backend.download(logits_RV, 0, out, 0, out.length);
        return out;
    }

    /**
     * The forward of {@code rows} new tokens against a KV cache (generation): {@code tokens[r]} sits at position
     * {@code positions[r]} of its sequence and at cache row {@code slots[r]} ({@link KvCache#slot}); every layer writes
     * the rows' keys and values into {@code cache} and attends to the cached rows of each row's sequence up to its
     * own, so rows of one sequence may come in one call (a prompt) or one per call (decoding). Returns the next-token
     * logits {@code [N, V]} of the rows listed in {@code logitRows} (the final norm and head run on those alone).
     */
    public float[] forwardCached(KvCache cache, int[] tokens, int[] slots, int[] positions, int rows,
                                 int[] logitRows) {
        if (training) {
            throw new IllegalStateException("model " + config.name() + " was built for training: generation against"
                    + " a KV cache runs on an inference engine (TrainingEngine.createForInference)");
        }
        checkRows(rows);
        int n = logitRows.length;
        for (int r : logitRows) {
            if (r < 0 || r >= rows) {
                throw new IllegalArgumentException("logit row " + r + " is outside the " + rows + " rows of the call");
            }
        }
        int d = config.hiddenSize();
        int v = config.vocabSize();
        backend.uploadInts(tokens, 0, tokens_R, 0, rows);
        backend.uploadInts(slots, 0, slots_R, 0, rows);
        backend.uploadInts(positions, 0, positions_R, 0, rows);
        embedding.forward(tokens, residual_RD[0], rows);
        Tensor base = null;
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).forwardCached(base, residual_RD[l], tokens_R, tmp_RD, rows, cache.keys(l), cache.values(l),
                    slots_R, positions_R);
            base = layers.get(l).outputBase();
        }
        if (n == 0) {
            // A chunk of a long prompt that ends none of the prompts: it only fills the cache (and the CUDA kernels
            // take no empty grid).
            return new float[0];
        }
        // The last residual add and the final norm run fused over every row (a norm is per row); the embedding lookup
        // is a row gather: the wanted rows of the normed output into tmp, which the head reads.
        finalNorm.forwardResidual(base, tmp_RD, residual_RD[layers.size()], xnF_RD, rows);
        backend.embeddingForward(xnF_RD, logitRows, tmp_RD, n, d);
        backend.matmulNT(n, v, d, tmp_RD, head_VD, logits_RV, false);
        float[] out = new float[n * v];
        backend.download(logits_RV, 0, out, 0, out.length);
        return out;
    }

    private void requireTraining(String what) {
        if (!training) {
            throw new IllegalStateException("model " + config.name() + " was built for inference (no gradients, no"
                    + " backward buffers): build a training engine to run " + what);
        }
    }

    /** Wall time per phase (see {@link PhaseTimer}). */
    public PhaseTimer timer() {
        return timer;
    }

    /** Computes Σ grad² into its scalar slot; under expert parallelism over every rank's experts. */
    public void gradSumSquares() {
        requireTraining("a gradient norm");
        if (ranks == null) {
            backend.sumSquares(params.grads(), scalars, gradNormSlot());
        } else {
            ranks.sumSquares(params.grads(), scalars, gradNormSlot());
        }
    }

    /** This rank's experts and the group's size under expert parallelism; null for a model holding every expert. */
    public ExpertPlacement expertPlacement() {
        return ranks == null ? null : ranks.placement();
    }

    /**
     * Under expert parallelism, makes the accumulated gradients those of the mean of the ranks' losses: the replicated
     * parameters' averaged over the ranks, the experts' divided by the rank count (each already holds every rank's
     * tokens). Nothing without expert parallelism.
     */
    public void reduceExpertParallelGradients() {
        requireTraining("a gradient reduction");
        if (ranks != null) {
            ranks.reduceGradients(params.grads());
        }
    }

    /**
     * Under expert parallelism, fails on every rank (naming the shapes) unless all ranks are about to run
     * {@code batch} sequences of {@code seqLenPlusOne} ids; nothing without it.
     */
    public void checkRanksAgree(int batch, int seqLenPlusOne) {
        if (ranks != null) {
            ranks.checkSameBatch(batch, seqLenPlusOne);
        }
    }

    /**
     * Under expert parallelism, {@code local_P} (this rank's parameter arena, AdamW m or v) as the whole model's
     * tensors in canonical order ({@link WholeModelReader}: rank 0 reads, the others serve); every rank calls it at
     * the same point between steps, since the gradient arena stages the other ranks' blocks.
     */
    public WholeModelReader wholeReader(Tensor local_P) {
        if (ranks == null) {
            throw new IllegalStateException("this model holds every expert: read its tensors directly");
        }
        return ranks.wholeReader(local_P, params.grads());
    }

    /** Downloads every scalar. */
    public float[] readScalars() {
        float[] out = new float[(int) scalars.size()];
        backend.download(scalars, 0, out, 0, out.length);
        return out;
    }
}
