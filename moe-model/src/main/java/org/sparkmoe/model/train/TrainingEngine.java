package org.sparkmoe.model.train;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
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
 * <p>Batches are {@code int[batch · seqLenPlusOne]}: each row is T+1 token ids; inputs are ids 0..T-1 and targets
 * ids 1..T. A negative id is padding (never a target). Deterministic for a seed and thread count.
 */
public final class TrainingEngine implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(TrainingEngine.class.getName());

    private final ModelConfig modelConfig;
    private final TrainConfig trainConfig;
    private final Backend backend;
    private final DeepSeekMoeModel model;
    private final Tensor m;
    private final Tensor v;
    private final List<long[]> decaySegments = new ArrayList<>();
    private long step;
    private long skippedTotal;

    private TrainingEngine(ModelConfig modelConfig, TrainConfig trainConfig, Backend backend,
                           Collective expertParallel) {
        this.modelConfig = modelConfig;
        this.trainConfig = trainConfig;
        this.backend = backend;
        int maxRows = trainConfig.microBatch() * modelConfig.maxSeqLen();
        this.model = new DeepSeekMoeModel(modelConfig, backend, maxRows, expertParallel);
        long n = model.parameters().layout().totalElements();
        this.m = backend.allocate("adam m", DType.F32, n);
        this.v = backend.allocate("adam v", DType.F32, n);
        long start = 0;
        Boolean decay = null;
        for (ParameterSpec s : model.parameters().layout().specs()) {
            if (decay != null && decay != s.decay()) {
                decaySegments.add(new long[] {start, s.offset(), decay ? 1 : 0});
                start = s.offset();
            }
            decay = s.decay();
        }
        decaySegments.add(new long[] {start, n, Boolean.TRUE.equals(decay) ? 1 : 0});
        // The backend said which kernels it runs; this line says what the engine built on it, once per configuration.
        ExpertPlacement placement = model.expertPlacement();
        String engine = String.format(Locale.ROOT,
                "Engine: model %s (%,d parameters) on %s, micro-batch %d x %d tokens%s",
                modelConfig.name(), n, backend.describe().split(" ", 2)[0], trainConfig.microBatch(),
                modelConfig.maxSeqLen(), placement == null ? "" : String.format(Locale.ROOT,
                        ", expert-parallel rank %d of %d (routed experts %d-%d)", placement.rank(), placement.ranks(),
                        placement.firstExpert(), placement.firstExpert() + placement.localExperts() - 1));
        LOG.log(Notices.first(engine) ? Level.INFO : Level.DEBUG, engine);
    }

    /** A fresh engine with parameters initialised from {@code seed} (N(0, initStd²) matrices, unit norms). */
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
        TrainingEngine engine = new TrainingEngine(modelConfig, trainConfig, backend, expertParallel);
        engine.model.initialize(seed);
        return engine;
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

    /** Number of fp32 parameters (length of the flat vector). */
    public int parameterCount() {
        return Math.toIntExact(layout().totalElements());
    }

    /** Copies the parameters into {@code dst[0, parameterCount())}. */
    public void readParameters(float[] dst) {
        backend.download(model.parameters().values(), 0, dst, 0, parameterCount());
    }

    /** Replaces the parameters by {@code src[0, parameterCount())}. */
    public void writeParameters(float[] src) {
        checkLength("parameters", src.length, parameterCount());
        backend.upload(src, 0, model.parameters().values(), 0, parameterCount());
    }

    /** Length of the optimiser state vector: AdamW's m then v, each in parameter order. */
    public int optimizerStateSize() {
        return 2 * parameterCount();
    }

    /** Copies AdamW's state (m, then v) into {@code dst[0, optimizerStateSize())}. */
    public void readOptimizerState(float[] dst) {
        backend.download(m, 0, dst, 0, parameterCount());
        backend.download(v, 0, dst, parameterCount(), parameterCount());
    }

    /** Replaces AdamW's state (m, then v) by {@code src}. */
    public void writeOptimizerState(float[] src) {
        checkLength("optimizer state", src.length, optimizerStateSize());
        backend.upload(src, 0, m, 0, parameterCount());
        backend.upload(src, parameterCount(), v, 0, parameterCount());
    }

    private static void checkLength(String what, int got, int want) {
        if (got < want) {
            throw new IllegalArgumentException(what + " array has " + got + " elements; the model needs " + want);
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
        int seqLen = checkBatch(tokens, batch, seqLenPlusOne);
        if (reduction != null && model.expertPlacement() != null) {
            throw new IllegalArgumentException("this engine is expert-parallel: it averages the replicated gradients"
                    + " over its own collective and holds experts the other ranks lack, so a gradient reduction over"
                    + " the whole arena does not apply; call step without one");
        }
        model.checkRanksAgree(batch, seqLenPlusOne);
        int valid = countTargets(tokens, batch, seqLenPlusOne);
        backend.fill(model.parameters().grads(), 0f);
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
            model.backward(mb, seqLen);
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

    private void applyAdamW(float lr, float gradScale) {
        Tensor params = model.parameters().values();
        Tensor grads = model.parameters().grads();
        int t = Math.toIntExact(step + 1);
        for (long[] seg : decaySegments) {
            long len = seg[1] - seg[0];
            float wd = seg[2] == 1 ? (float) trainConfig.weightDecay() : 0f;
            backend.adamw(backend.view(params, "params", seg[0], len), backend.view(grads, "grads", seg[0], len),
                    backend.view(m, "m", seg[0], len), backend.view(v, "v", seg[0], len), lr,
                    (float) trainConfig.beta1(), (float) trainConfig.beta2(), (float) trainConfig.eps(), wd,
                    gradScale, t);
        }
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
