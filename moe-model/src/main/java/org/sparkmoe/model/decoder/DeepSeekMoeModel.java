package org.sparkmoe.model.decoder;

import java.util.ArrayList;
import java.util.List;
import org.sparkmoe.model.attention.AttentionScratch;
import org.sparkmoe.model.attention.CausalSelfAttention;
import org.sparkmoe.model.attention.KvCache;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.embedding.Embedding;
import org.sparkmoe.model.ffn.FeedForward;
import org.sparkmoe.model.ffn.FfnScratch;
import org.sparkmoe.model.ffn.SwiGluFfn;
import org.sparkmoe.model.loss.CrossEntropyLoss;
import org.sparkmoe.model.moe.ExpertExchange;
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
 * up to {@code maxRows} = micro-batch·seqLen tokens are allocated once: what forward saves for backward per layer,
 * backward-only buffers once for all layers ({@link AttentionScratch}, {@link FfnScratch}, {@link MoeScratch}).
 *
 * <p>Scalars (fp32, read with {@link #readScalars}): [0] sum of token losses; for MoE layer j (in layer order)
 * [1+3j] expert balance loss, [2+3j] device balance loss, [3+3j] mean router entropy; [last] Σ grad².
 *
 * <p>Generation uses a forward-only model ({@link #forInference}: no gradient arena, no backward buffers) and
 * {@link #forwardCached}, which runs new tokens against a {@link KvCache}.
 *
 * <p>Legend: R rows = B·T, D width, V vocabulary, N rows whose logits are wanted.
 */
public final class DeepSeekMoeModel {

    private final ModelConfig config;
    private final Backend backend;
    private final boolean trainable;
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
    private final Tensor logitRows_N;
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
    private final ExpertParallelRanks ranks;
    private final ExpertExchange.Buffers exchangeBuffers;

    /** A trainable model: parameters, gradients and the activations of {@code maxRows} tokens. */
    public DeepSeekMoeModel(ModelConfig config, Backend backend, int maxRows) {
        this(config, backend, maxRows, true, null);
    }

    /**
     * A trainable rank of an expert-parallel group (docs/expert-parallel.md): its parameters are the replicated ones
     * and its block of routed experts ({@link ExpertPlacement} of its rank in {@code expertParallel}); every MoE
     * layer exchanges token rows with the other ranks over {@code expertParallel}, so all ranks must run every
     * forward and backward together. With a collective of one rank the exchange still runs (to itself). Null: the
     * whole model, as {@link #DeepSeekMoeModel(ModelConfig, Backend, int)}.
     */
    public DeepSeekMoeModel(ModelConfig config, Backend backend, int maxRows, Collective expertParallel) {
        this(config, backend, maxRows, true, expertParallel);
    }

    /**
     * A forward-only model for generation and scoring: the parameters and the forward's activations of
     * {@code maxRows} tokens, but no gradient arena and no backward buffers; {@link #backward} refuses.
     */
    public static DeepSeekMoeModel forInference(ModelConfig config, Backend backend, int maxRows) {
        return new DeepSeekMoeModel(config, backend, maxRows, false, null);
    }

    private DeepSeekMoeModel(ModelConfig config, Backend backend, int maxRows, boolean trainable,
                             Collective expertParallel) {
        this.config = config;
        this.backend = backend;
        this.trainable = trainable;
        this.maxRows = maxRows;
        ExpertPlacement placement = expertParallel == null ? null
                : ExpertPlacement.of(config, expertParallel.rank(), expertParallel.size());
        this.params = new Parameters(backend, ParameterLayout.of(config, placement), trainable);
        this.ranks = placement == null ? null
                : new ExpertParallelRanks(backend, expertParallel, placement, config, params.layout());
        this.exchangeBuffers = placement == null ? null : ExpertExchange.Buffers.allocate(backend, placement, maxRows,
                config.numExpertsPerTok(), config.hiddenSize());
        int d = config.hiddenSize();
        long rd = (long) maxRows * d;
        this.scalars = backend.allocate("scalars", DType.F32, 2 + 3L * config.moeLayerCount());
        int widest = Math.max(config.sharedIntermediateSize(),
                config.moeLayerCount() < config.numLayers() ? config.intermediateSize() : 0);
        // The layers take their backward buffers from these; a forward-only model hands them none.
        this.attentionScratch = trainable ? AttentionScratch.allocate(backend, maxRows, d)
                : new AttentionScratch(null, null, null, null);
        this.ffnScratch = widest > 0 ? trainable ? FfnScratch.allocate(backend, maxRows, widest)
                : new FfnScratch(null, null, null) : null;
        this.moeScratch = config.moeLayerCount() == 0 ? null : trainable ? MoeScratch.allocate(backend, maxRows,
                config.numExpertsPerTok(), d, config.moeIntermediateSize(), config.nRoutedExperts(),
                expertRows(placement))
                : new MoeScratch(null, null, null, null, null, null, null, null);
        this.embedding = new Embedding(backend, params.value("model.embed_tokens.weight"),
                params.grad("model.embed_tokens.weight"), d);
        float eps = (float) config.rmsNormEps();
        for (int l = 0; l < config.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            RmsNorm norm1 = new RmsNorm(backend, params.value(p + "input_layernorm.weight"),
                    params.grad(p + "input_layernorm.weight"), d, eps, maxRows);
            String[] proj = {"q_proj", "k_proj", "v_proj", "o_proj"};
            Tensor[] w = new Tensor[4];
            Tensor[] g = new Tensor[4];
            for (int i = 0; i < 4; i++) {
                w[i] = params.value(p + "self_attn." + proj[i] + ".weight");
                g[i] = params.grad(p + "self_attn." + proj[i] + ".weight");
            }
            CausalSelfAttention attention = new CausalSelfAttention(backend, w, g, d, config.numHeads(),
                    (float) config.ropeTheta(), maxRows, attentionScratch);
            RmsNorm norm2 = new RmsNorm(backend, params.value(p + "post_attention_layernorm.weight"),
                    params.grad(p + "post_attention_layernorm.weight"), d, eps, maxRows);
            FeedForward mlp = config.isMoeLayer(l) ? moe(l, p, maxRows, expertParallel, placement)
                    : FeedForward.dense(swiGlu(p + "mlp.", config.intermediateSize(), maxRows));
            layers.add(new DecoderLayer(backend, norm1, attention, norm2, mlp, rd, timer,
                    config.isMoeLayer(l) ? PhaseTimer.Phase.EXPERTS : PhaseTimer.Phase.DENSE_FFN));
        }
        this.finalNorm = new RmsNorm(backend, params.value("model.norm.weight"), params.grad("model.norm.weight"), d,
                eps, maxRows);
        this.head_VD = params.value("lm_head.weight");
        this.dHead_VD = params.grad("lm_head.weight");
        this.loss = new CrossEntropyLoss(backend, maxRows);
        this.tokens_R = backend.allocate("tokens", DType.I32, maxRows);
        this.targets_R = backend.allocate("targets", DType.I32, maxRows);
        this.slots_R = backend.allocate("kv cache slots", DType.I32, maxRows);
        this.positions_R = backend.allocate("positions", DType.I32, maxRows);
        this.logitRows_N = backend.allocate("logit rows", DType.I32, maxRows);
        this.residual_RD = new Tensor[config.numLayers() + 1];
        for (int l = 0; l <= config.numLayers(); l++) {
            residual_RD[l] = backend.allocate("residual " + l, DType.F32, rd);
        }
        this.tmp_RD = backend.allocate("tmp", DType.F32, rd);
        this.dXn_RD = trainable ? backend.allocate("dxn", DType.F32, rd) : null;
        this.dResid_RD = trainable ? backend.allocate("dresid", DType.F32, rd) : null;
        this.xnF_RD = backend.allocate("xn final", DType.F32, rd);
        this.logits_RV = backend.allocate("logits", DType.F32, (long) maxRows * config.vocabSize());
        this.hostTokens = new int[maxRows];
        this.hostTargets = new int[maxRows];
    }

    private SwiGluFfn swiGlu(String prefix, int width, int rows) {
        String[] proj = {"gate_proj", "up_proj", "down_proj"};
        Tensor[] w = new Tensor[3];
        Tensor[] g = new Tensor[3];
        for (int i = 0; i < 3; i++) {
            w[i] = params.value(prefix + proj[i] + ".weight");
            g[i] = params.grad(prefix + proj[i] + ".weight");
        }
        return new SwiGluFfn(backend, w, g, config.hiddenSize(), width, rows, ffnScratch);
    }

    /**
     * Rows the experts of one MoE layer compute at most: every slot, or what an expert-parallel rank can receive (its
     * buffers start at the slots and grow only as far as the routing's imbalance takes them).
     */
    private long expertRows(ExpertPlacement placement) {
        return placement == null ? (long) maxRows * config.numExpertsPerTok()
                : placement.maxReceivedRows(maxRows, config.numExpertsPerTok());
    }

    private MoeLayer moe(int layer, String p, int rows, Collective expertParallel, ExpertPlacement placement) {
        String gate = p + "mlp.gate.weight";
        Router router = new Router(backend, config, config.hasRouterWeights() ? params.value(gate) : null,
                config.hasRouterWeights() ? params.grad(gate) : null, rows, moeScratch);
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
        GroupedExperts grouped = new GroupedExperts(backend, w, g, d, config.moeIntermediateSize(), (long) rows * k,
                expertRows(placement), moeScratch);
        ExpertExchange exchange = placement == null ? null
                : new ExpertExchange(backend, expertParallel, placement, rows, k, d, exchangeBuffers, timer);
        RoutedExperts experts = new RoutedExperts(backend, grouped, exchange, config.nRoutedExperts(), k, d, rows,
                moeScratch);
        SwiGluFfn shared = config.nSharedExperts() > 0
                ? swiGlu(p + "mlp.shared_experts.", config.sharedIntermediateSize(), rows) : null;
        MoeLayer moeLayer = new MoeLayer(layer, backend, config, router, experts, shared, scalars,
                1 + 3 * moeLayers.size(), timer);
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

    /** Whether the model has gradients and backward buffers (false for {@link #forInference}). */
    public boolean trainable() {
        return trainable;
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
        embedding.forward(tokens_R, residual_RD[0], rows);
        for (MoeLayer m : moeLayers) {
            m.setLossScale(lossScale);
        }
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).forward(residual_RD[l], residual_RD[l + 1], tokens_R, tmp_RD, batch, seqLen, training);
        }
        finalNorm.forward(residual_RD[layers.size()], xnF_RD, rows);
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.HEAD_LOSS);
        backend.matmulNT(rows, v, d, xnF_RD, head_VD, logits_RV, false);
        loss.forwardBackward(logits_RV, targets_R, rows, v, gradScale, scalars, 0);
        timer.exit(outer);
    }

    /** Backward of the last {@link #forward}, accumulating into the gradient arena. */
    public void backward(int batch, int seqLen) {
        requireTrainable("backward");
        int rows = batch * seqLen;
        int d = config.hiddenSize();
        int v = config.vocabSize();
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.HEAD_LOSS);
        backend.matmulTN(v, d, rows, logits_RV, xnF_RD, dHead_VD, true);
        backend.matmulNN(rows, d, v, logits_RV, head_VD, dXn_RD, false);
        timer.exit(outer);
        backend.fill(dResid_RD, 0f);
        finalNorm.backward(dXn_RD, residual_RD[layers.size()], dResid_RD, rows);
        for (int l = layers.size() - 1; l >= 0; l--) {
            layers.get(l).backward(dResid_RD, residual_RD[l], dXn_RD, batch, seqLen);
        }
        embedding.backward(dResid_RD, tokens_R, rows);
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
        embedding.forward(tokens_R, residual_RD[0], rows);
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).forward(residual_RD[l], residual_RD[l + 1], tokens_R, tmp_RD, batch, seqLen, false);
        }
        finalNorm.forward(residual_RD[layers.size()], xnF_RD, rows);
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
        backend.uploadInts(logitRows, 0, logitRows_N, 0, n);
        embedding.forward(tokens_R, residual_RD[0], rows);
        for (int l = 0; l < layers.size(); l++) {
            layers.get(l).forwardCached(residual_RD[l], residual_RD[l + 1], tokens_R, tmp_RD, rows, cache.keys(l),
                    cache.values(l), slots_R, positions_R);
        }
        // The embedding lookup is a row gather: the wanted rows of the last residual into tmp.
        backend.embeddingForward(residual_RD[layers.size()], logitRows_N, tmp_RD, n, d);
        finalNorm.forward(tmp_RD, xnF_RD, n);
        backend.matmulNT(n, v, d, xnF_RD, head_VD, logits_RV, false);
        float[] out = new float[n * v];
        backend.download(logits_RV, 0, out, 0, out.length);
        return out;
    }

    private void requireTrainable(String what) {
        if (!trainable) {
            throw new IllegalStateException("this model was built forward-only (for generation): it has no gradients,"
                    + " so " + what + " cannot run; build it with the public constructor to train");
        }
    }

    /** Wall time per phase (see {@link PhaseTimer}). */
    public PhaseTimer timer() {
        return timer;
    }

    /** Computes Σ grad² into its scalar slot; under expert parallelism over every rank's experts. */
    public void gradSumSquares() {
        requireTrainable("a gradient norm");
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
        requireTrainable("a gradient reduction");
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
     * The whole model's flat vector (canonical layout of {@link ParameterLayout#of(ModelConfig)}) from every
     * expert-parallel rank's {@code local} (in its own layout), on rank 0; null on the others. Every rank calls it
     * between steps: the gradient arena stages the expert blocks. Without expert parallelism, {@code local} itself.
     */
    public float[] gatherWhole(float[] local) {
        if (ranks == null) {
            return local;
        }
        requireTrainable("gathering the expert blocks");
        return ranks.gatherWhole(local, params.grads());
    }

    /** Downloads every scalar. */
    public float[] readScalars() {
        float[] out = new float[(int) scalars.size()];
        backend.download(scalars, 0, out, 0, out.length);
        return out;
    }
}
