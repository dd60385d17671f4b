package org.sparkmoe.model.train;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.DecayRanges;
import org.sparkmoe.model.backend.Notices;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.decoder.ParameterLayout;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.decoder.PhaseTimer;
import org.sparkmoe.model.moe.ExpertPlacement;
import org.sparkmoe.model.moe.MoeLayer;
import org.sparkmoe.model.moe.RoutingAblation;

/**
 * The training engine the Spark trainer drives: one model on one {@link Backend}, AdamW with its state, the LR
 * schedule and the step counter. See docs/engine.md.
 *
 * <p>Lifecycle: {@link #create} (initialised from the seed) → any number of {@link #step} / {@link #evaluate},
 * with {@link #readParameters}/{@link #writeParameters} (flat fp32, {@link ParameterLayout} order) and
 * {@link #readOptimizerState}/{@link #writeOptimizerState} in between (parameter averaging, DiLoCo, resume) →
 * {@link #close}. Not thread-safe: one engine per task thread.
 *
 * <p>Sizes: the flat vectors are indexed by {@code long} ({@link #parameterCount()} may exceed 2^31). The
 * {@code float[]} forms serve models under 2^31 parameters; any model is read and written in pieces through
 * {@link MemorySegment}s ({@link #readParameters(long, long, MemorySegment)}, by range or per {@link ParameterSpec}),
 * and a collective can work on the engine's own tensors in place ({@link #parameterArena()},
 * {@link #gradientArena()}, {@link #adamM()}, {@link #adamV()}, {@link #backend()}).
 *
 * <p>An engine from {@link #createForInference} holds no gradients, no AdamW state and one layer's activations:
 * {@link #evaluate} and the model's forward work, {@link #step} refuses. Every engine checks its
 * {@link MemoryEstimate} against the backend's free memory before allocating ({@link ModelDoesNotFitException}).
 *
 * <p>Batches are {@code int[batch · seqLenPlusOne]}: each row is T+1 token ids; inputs are ids 0..T-1 and targets
 * ids 1..T. A negative id is padding (never a target). Deterministic for a seed and thread count.
 */
public final class TrainingEngine implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(TrainingEngine.class.getName());
    /**
     * The step's first backward writes over the gradient arena instead of adding into a zeroed one; with assertions
     * on (the tests) the arena is filled with NaN first, so a gradient some layer only adds into shows up as NaN.
     */
    private static final boolean POISON_GRADIENTS = TrainingEngine.class.desiredAssertionStatus();

    private final ModelConfig modelConfig;
    private final TrainConfig trainConfig;
    private final Backend backend;
    private final DeepSeekMoeModel model;
    private final Tensor m;
    private final Tensor v;
    private final MemoryEstimate memory;
    private final DecayRanges decay;
    private long step;
    private long skippedTotal;

    private TrainingEngine(ModelConfig modelConfig, TrainConfig trainConfig, Backend backend, boolean training,
                           Collective expertParallel) {
        this.modelConfig = modelConfig;
        this.trainConfig = trainConfig;
        this.backend = backend;
        try {
            this.memory = MemoryCheck.refuseIfTooLarge(modelConfig, trainConfig.microBatch(), training, backend,
                    expertParallel, trainConfig.recomputeAttention());
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
        int maxRows = trainConfig.microBatch() * modelConfig.maxSeqLen();
        this.model = training ? new DeepSeekMoeModel(modelConfig, backend, maxRows, expertParallel,
                trainConfig.recomputeAttention()) : new DeepSeekMoeModel(modelConfig, backend, maxRows, false);
        long n = model.parameters().layout().totalElements();
        this.m = training ? backend.allocate("adam m", DType.F32, n) : null;
        this.v = training ? backend.allocate("adam v", DType.F32, n) : null;
        this.decay = model.parameters().layout().decayRanges();
        // The backend said which kernels it runs; this line says what the engine built on it, once per configuration.
        ExpertPlacement placement = model.expertPlacement();
        String engine = String.format(Locale.ROOT,
                "Engine: model %s (%,d parameters) for %s on %s, micro-batch %d x %d tokens%s%s, memory %s",
                modelConfig.name(), n, training ? "training" : "inference", backend.describe().split(" ", 2)[0],
                trainConfig.microBatch(), modelConfig.maxSeqLen(), placement == null ? "" : String.format(Locale.ROOT,
                        ", expert-parallel rank %d of %d (routed experts %d-%d)", placement.rank(), placement.ranks(),
                        placement.firstExpert(), placement.firstExpert() + placement.localExperts() - 1),
                training && trainConfig.recomputeAttention() ? ", attention q/k/v recomputed in backward" : "",
                memory);
        LOG.log(Notices.first(engine) ? Level.INFO : Level.DEBUG, engine);
    }

    /**
     * A fresh engine with parameters initialised from {@code seed} (N(0, initStd²) matrices, unit norms). The
     * engine owns {@code backend}: it closes it, also when it refuses the model.
     */
    public static TrainingEngine create(ModelConfig modelConfig, TrainConfig trainConfig, Backend backend,
                                        long seed) {
        return create(modelConfig, trainConfig, backend, seed, null);
    }

    /**
     * A fresh engine that is rank {@code expertParallel.rank()} of an expert-parallel group (docs/expert-parallel.md):
     * it holds the replicated parameters and its block of routed experts ({@link #expertPlacement()}), initialised
     * as the whole model would be from {@code seed}; every rank steps and evaluates together, each on its own tokens,
     * and the engine reduces its gradients over {@code expertParallel} itself. The parameter and optimiser vectors
     * are in the rank's layout ({@link #layout()}). Null: the whole model, as {@link #create(ModelConfig,
     * TrainConfig, Backend, long)}.
     */
    public static TrainingEngine create(ModelConfig modelConfig, TrainConfig trainConfig, Backend backend,
                                        long seed, Collective expertParallel) {
        TrainingEngine engine = new TrainingEngine(modelConfig, trainConfig, backend, true, expertParallel);
        engine.model.initialize(seed);
        return engine;
    }

    /**
     * A training engine whose parameters and optimiser state are zero, for a checkpoint to fill ({@code Checkpoints}):
     * skips the initialisation, which for billions of parameters takes minutes.
     */
    public static TrainingEngine createForLoading(ModelConfig modelConfig, TrainConfig trainConfig, Backend backend) {
        return createForLoading(modelConfig, trainConfig, backend, null);
    }

    /** {@link #createForLoading(ModelConfig, TrainConfig, Backend)} as an expert-parallel rank (null: whole model). */
    public static TrainingEngine createForLoading(ModelConfig modelConfig, TrainConfig trainConfig, Backend backend,
                                                  Collective expertParallel) {
        return new TrainingEngine(modelConfig, trainConfig, backend, true, expertParallel);
    }

    /**
     * An engine for forward passes only (score, evaluate, generate): parameters (zero until written, e.g. by
     * {@code Checkpoints.loadForInference}) and one layer's activations for micro-batches of
     * {@code trainConfig.microBatch()} sequences; no gradients, no AdamW state.
     */
    public static TrainingEngine createForInference(ModelConfig modelConfig, TrainConfig trainConfig,
                                                    Backend backend) {
        return new TrainingEngine(modelConfig, trainConfig, backend, false, null);
    }

    /** Whether this engine can train (false: built by {@link #createForInference}). */
    public boolean training() {
        return model.training();
    }

    /** The bytes this engine allocated, as estimated before allocation. */
    public MemoryEstimate memoryEstimate() {
        return memory;
    }

    /** The backend this engine's tensors live on (owned by the engine). */
    public Backend backend() {
        return backend;
    }

    /** The whole parameter arena ({@link ParameterLayout} order), for collectives that work in place. */
    public Tensor parameterArena() {
        return model.parameters().values();
    }

    /** The whole gradient arena (same layout; after {@link #step}'s backward, before its update). Null for inference. */
    public Tensor gradientArena() {
        return model.parameters().grads();
    }

    /** AdamW's first moment, in parameter order. Null for inference. */
    public Tensor adamM() {
        return m;
    }

    /** AdamW's second moment, in parameter order. Null for inference. */
    public Tensor adamV() {
        return v;
    }

    public ModelConfig modelConfig() {
        return modelConfig;
    }

    public TrainConfig trainConfig() {
        return trainConfig;
    }

    /** The parameter order and names: the canonical layout, or an expert-parallel rank's. */
    public ParameterLayout layout() {
        return model.parameters().layout();
    }

    /** Under expert parallelism, this rank's experts and the group's size; null when the engine holds them all. */
    public ExpertPlacement expertPlacement() {
        return model.expertPlacement();
    }

    /** Number of fp32 parameters (length of the flat vector; may exceed 2^31). */
    public long parameterCount() {
        return layout().totalElements();
    }

    /** Copies the parameters into {@code dst[0, parameterCount())} (models under 2^31 parameters). */
    public void readParameters(float[] dst) {
        int n = arrayLength("parameters", parameterCount());
        checkLength("parameters", dst.length, n);
        backend.download(parameterArena(), 0, dst, 0, n);
    }

    /** Replaces the parameters by {@code src[0, parameterCount())} (models under 2^31 parameters). */
    public void writeParameters(float[] src) {
        int n = arrayLength("parameters", parameterCount());
        checkLength("parameters", src.length, n);
        backend.upload(src, 0, parameterArena(), 0, n);
    }

    /** Copies parameters {@code [first, first + count)} of the flat vector into {@code dst} (fp32, from its start). */
    public void readParameters(long first, long count, MemorySegment dst) {
        checkSegment("parameters", dst, count);
        backend.download(parameterArena(), first, dst, 0, count);
    }

    /** Replaces parameters {@code [first, first + count)} of the flat vector by the first {@code count} of {@code src}. */
    public void writeParameters(long first, long count, MemorySegment src) {
        checkSegment("parameters", src, count);
        backend.upload(src, 0, parameterArena(), first, count);
    }

    /** Length of the optimiser state vector: AdamW's m then v, each in parameter order. */
    public long optimizerStateSize() {
        return 2 * parameterCount();
    }

    /** Copies AdamW's state (m, then v) into {@code dst[0, optimizerStateSize())} (models under 2^30 parameters). */
    public void readOptimizerState(float[] dst) {
        int n = arrayLength("optimizer state", optimizerStateSize()) / 2;
        checkLength("optimizer state", dst.length, 2 * n);
        backend.download(requireOptimizer(), 0, dst, 0, n);
        backend.download(v, 0, dst, n, n);
    }

    /** Replaces AdamW's state (m, then v) by {@code src} (models under 2^30 parameters). */
    public void writeOptimizerState(float[] src) {
        int n = arrayLength("optimizer state", optimizerStateSize()) / 2;
        checkLength("optimizer state", src.length, 2 * n);
        backend.upload(src, 0, requireOptimizer(), 0, n);
        backend.upload(src, n, v, 0, n);
    }

    /**
     * Copies elements {@code [first, first + count)} of the optimiser state vector (m then v, each in parameter
     * order) into {@code dst}; the range may span both moments.
     */
    public void readOptimizerState(long first, long count, MemorySegment dst) {
        checkSegment("optimizer state", dst, count);
        moments(first, count, (moment, offset, done, part) -> backend.download(moment, offset, dst, done, part));
    }

    /** Replaces elements {@code [first, first + count)} of the optimiser state vector by the start of {@code src}. */
    public void writeOptimizerState(long first, long count, MemorySegment src) {
        checkSegment("optimizer state", src, count);
        moments(first, count, (moment, offset, done, part) -> backend.upload(src, done, moment, offset, part));
    }

    @FunctionalInterface
    private interface MomentRange {
        void copy(Tensor moment, long offset, long done, long count);
    }

    /** Splits a range of the optimiser state vector into its parts in m and in v. */
    private void moments(long first, long count, MomentRange range) {
        long n = parameterCount();
        requireOptimizer();
        if (first < 0 || count < 0 || first + count > 2 * n) {
            throw new IllegalArgumentException("optimizer state range [" + first + ", " + (first + count)
                    + ") is outside the " + 2 * n + " elements of AdamW's m and v");
        }
        long inM = Math.max(0, Math.min(count, n - first));
        if (inM > 0) {
            range.copy(m, first, 0, inM);
        }
        if (count > inM) {
            range.copy(v, first + inM - n, inM, count - inM);
        }
    }

    private Tensor requireOptimizer() {
        if (m == null) {
            throw new IllegalStateException("engine for model " + modelConfig.name() + " was built for inference:"
                    + " it has no optimiser state (build it with TrainingEngine.create to train)");
        }
        return m;
    }

    /** The length of a whole-model Java array, refusing a model past what one array holds. */
    private static int arrayLength(String what, long elements) {
        if (elements > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(what + " of " + elements + " elements do not fit one Java array: use"
                    + " the MemorySegment forms (by range or per parameter tensor) for models past 2^31 elements");
        }
        return (int) elements;
    }

    private static void checkLength(String what, int got, int want) {
        if (got < want) {
            throw new IllegalArgumentException(what + " array has " + got + " elements; the model needs " + want);
        }
    }

    private static void checkSegment(String what, MemorySegment segment, long count) {
        if (segment.byteSize() < count * JAVA_FLOAT.byteSize()) {
            throw new IllegalArgumentException(what + ": segment of " + segment.byteSize() + " bytes is too small for "
                    + count + " fp32 values");
        }
    }

    /**
     * Back to the state {@link #create} gives for {@code seed}: the initial parameters, AdamW's moments zero, step 0
     * (an engine kept on an executor starts another run, or a run's first round again, without a new allocation).
     */
    public void reset(long seed) {
        model.initialize(seed);
        backend.fill(requireOptimizer(), 0f);
        backend.fill(v, 0f);
        step = 0;
        skippedTotal = 0;
    }

    /** {@code parameters *= factor} on the backend, without a copy to the host. */
    public void scaleParameters(float factor) {
        backend.scale(parameterArena(), factor);
    }

    /** Whether every parameter is finite: one reduction on the backend, one value back to the host. */
    public boolean parametersFinite() {
        Tensor sumOfSquares_1 = backend.allocate("parameter check", DType.F32, 1);
        try {
            backend.sumSquares(parameterArena(), sumOfSquares_1, 0);
            float[] sum = new float[1];
            backend.download(sumOfSquares_1, 0, sum, 0, 1);
            return Float.isFinite(sum[0]);
        } finally {
            backend.free(sumOfSquares_1);
        }
    }

    /** Optimiser steps applied so far (drives the LR schedule and Adam's bias correction). */
    public long stepCount() {
        return step;
    }

    /** Sets the step counter (resume). */
    public void setStepCount(long steps) {
        this.step = steps;
    }

    /** Steps skipped for a non-finite loss or gradient. */
    public long skippedSteps() {
        return skippedTotal;
    }

    /** The model, for scoring and analyses. */
    public DeepSeekMoeModel model() {
        return model;
    }

    /**
     * One optimiser step on {@code batch} sequences of {@code seqLenPlusOne} ids, in micro-batches of
     * {@link TrainConfig#microBatch()} sequences with gradients accumulated. Skips (and counts) the update when the
     * loss or the gradient norm is not finite.
     */
    public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne) {
        return step(tokens, batch, seqLenPlusOne, null);
    }

    /**
     * {@link #step(int[], int, int)} with {@code reduction} applied to the accumulated gradients after backward and
     * before the gradient norm, clipping and AdamW (data-parallel training: the workers' mean gradient); null for none.
     * An expert-parallel engine reduces its own gradients and refuses one.
     */
    public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne, GradientReduction reduction) {
        requireOptimizer();
        int seqLen = checkBatch(tokens, batch, seqLenPlusOne);
        if (reduction != null && model.expertPlacement() != null) {
            throw new IllegalArgumentException("this engine is expert-parallel: it averages the replicated gradients"
                    + " over its own collective and holds experts the other ranks lack, so a gradient reduction over"
                    + " the whole arena does not apply; call step without one");
        }
        model.checkRanksAgree(batch, seqLenPlusOne);
        int valid = countTargets(tokens, batch, seqLenPlusOne);
        if (POISON_GRADIENTS) {
            backend.fill(model.parameters().grads(), Float.NaN);
        }
        List<MoeLayer> moe = model.moeLayers();
        moe.forEach(MoeLayer::resetStatistics);
        double ceSum = 0;
        double[] expertLoss = new double[moe.size()];
        double[] deviceLoss = new double[moe.size()];
        double[] entropy = new double[moe.size()];
        for (int first = 0; first < batch; first += trainConfig.microBatch()) {
            int mb = Math.min(trainConfig.microBatch(), batch - first);
            model.loadBatch(tokens, first, mb, seqLenPlusOne);
            float share = (float) mb / batch;
            model.forward(mb, seqLen, valid == 0 ? 0f : 1f / valid, share, true);
            model.backward(mb, seqLen, first > 0);
            float[] s = model.readScalars();
            ceSum += s[0];
            for (int j = 0; j < moe.size(); j++) {
                expertLoss[j] += s[1 + 3 * j];
                deviceLoss[j] += s[2 + 3 * j];
                entropy[j] += s[3 + 3 * j] * share;
            }
        }
        PhaseTimer.Phase outer = model.timer().enter(PhaseTimer.Phase.OPTIMIZER);
        if (reduction != null) {
            reduction.reduce(model.parameters().grads());
        }
        model.reduceExpertParallelGradients();
        model.gradSumSquares();
        double gradNorm = Math.sqrt(model.readScalars()[model.gradNormSlot()]);
        double loss = valid == 0 ? 0 : ceSum / valid;
        double aux = sum(expertLoss) + sum(deviceLoss);
        List<RoutingStats> routing = new ArrayList<>(moe.size());
        for (int j = 0; j < moe.size(); j++) {
            long[] counts = moe.get(j).tokensPerExpert();
            routing.add(new RoutingStats(moe.get(j).layerIndex(), counts, RoutingStats.cv(counts), entropy[j],
                    expertLoss[j], deviceLoss[j]));
        }
        if (!Double.isFinite(loss) || !Double.isFinite(aux) || !Double.isFinite(gradNorm)) {
            skippedTotal++;
            model.timer().exit(outer);
            LOG.log(Level.WARNING, "step {0}: loss {1} / gradient norm {2} not finite: update skipped ({3} so far)",
                    step, loss, gradNorm, skippedTotal);
            return new StepMetrics(step, loss, sum(expertLoss), sum(deviceLoss), gradNorm, 0, valid, true,
                    skippedTotal, routing);
        }
        double lr = LrSchedule.at(trainConfig, step);
        float clip = trainConfig.gradClip() > 0 && gradNorm > trainConfig.gradClip()
                ? (float) (trainConfig.gradClip() / gradNorm) : 1f;
        applyAdamW((float) lr, clip);
        model.timer().exit(outer);
        StepMetrics metrics = new StepMetrics(step, loss, sum(expertLoss), sum(deviceLoss), gradNorm, lr, valid,
                false, skippedTotal, routing);
        step++;
        return metrics;
    }

    /** AdamW over the whole parameter arena in one call, weight decay on the layout's decayed ranges. */
    private void applyAdamW(float lr, float gradScale) {
        backend.adamw(model.parameters().values(), model.parameters().grads(), m, v, decay, lr,
                (float) trainConfig.beta1(), (float) trainConfig.beta2(), (float) trainConfig.eps(),
                (float) trainConfig.weightDecay(), gradScale, Math.toIntExact(step + 1));
    }

    /** Mean cross-entropy of a batch (and per sequence) without touching parameters or optimiser state. */
    public EvalMetrics evaluate(int[] tokens, int batch, int seqLenPlusOne) {
        int seqLen = checkBatch(tokens, batch, seqLenPlusOne);
        model.checkRanksAgree(batch, seqLenPlusOne);
        double total = 0;
        long valid = 0;
        double[] perSequence = new double[batch];
        for (int first = 0; first < batch; first += trainConfig.microBatch()) {
            int mb = Math.min(trainConfig.microBatch(), batch - first);
            model.loadBatch(tokens, first, mb, seqLenPlusOne);
            model.forward(mb, seqLen, 0f, 0f, false);
            float[] losses = model.readTokenLosses(mb * seqLen);
            for (int b = 0; b < mb; b++) {
                double seqSum = 0;
                int seqValid = 0;
                for (int t = 0; t < seqLen; t++) {
                    if (tokens[(first + b) * seqLenPlusOne + t + 1] >= 0) {
                        seqSum += losses[b * seqLen + t];
                        seqValid++;
                    }
                }
                perSequence[first + b] = seqValid == 0 ? Double.NaN : seqSum / seqValid;
                total += seqSum;
                valid += seqValid;
            }
        }
        return new EvalMetrics(valid == 0 ? Double.NaN : total / valid, valid, perSequence);
    }

    /**
     * {@link #evaluate(int[], int, int)} with every MoE layer routing as {@code ablation} says (the paper's
     * specialisation analyses); the trained routing is back when this returns. Parameters and optimiser state are
     * untouched.
     */
    public EvalMetrics evaluate(int[] tokens, int batch, int seqLenPlusOne, RoutingAblation ablation) {
        model.setRoutingAblation(ablation);
        try {
            return evaluate(tokens, batch, seqLenPlusOne);
        } finally {
            model.setRoutingAblation(null);
        }
    }

    private int checkBatch(int[] tokens, int batch, int seqLenPlusOne) {
        int seqLen = seqLenPlusOne - 1;
        if (batch < 1 || seqLen < 1 || seqLen > modelConfig.maxSeqLen()) {
            throw new IllegalArgumentException("batch of " + batch + " sequences of " + seqLenPlusOne
                    + " ids: need batch >= 1 and 2 <= ids per sequence <= max_position_embeddings+1 = "
                    + (modelConfig.maxSeqLen() + 1));
        }
        if (tokens.length < (long) batch * seqLenPlusOne) {
            throw new IllegalArgumentException("token array has " + tokens.length + " ids; batch " + batch + " x "
                    + seqLenPlusOne + " needs " + (long) batch * seqLenPlusOne);
        }
        return seqLen;
    }

    private static int countTargets(int[] tokens, int batch, int seqLenPlusOne) {
        int valid = 0;
        for (int b = 0; b < batch; b++) {
            for (int t = 1; t < seqLenPlusOne; t++) {
                if (tokens[b * seqLenPlusOne + t] >= 0) {
                    valid++;
                }
            }
        }
        return valid;
    }

    private static double sum(double[] a) {
        double s = 0;
        for (double x : a) {
            s += x;
        }
        return s;
    }

    /** Closes the backend. */
    @Override
    public void close() {
        backend.close();
    }
}
