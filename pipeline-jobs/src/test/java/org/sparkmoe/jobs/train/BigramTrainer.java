package org.sparkmoe.jobs.train;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.VectorRanges;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * A test-only engine until the real one is wired in: a byte-level bigram language model (logits table
 * {@code W_VV}) trained by Adam, small enough to run in a Spark task in milliseconds. Two byte values that never
 * occur in UTF-8 text act as failure probes: {@link #SKIP_TOKEN} makes the step report a non-finite loss and skip
 * itself (as the engine must), {@link #POISON_TOKEN} makes worker 0's parameters non-finite (a diverged worker).
 *
 * <p>Legend: V vocabulary, M Adam's moments (2·V·V: first, then second).
 * V is the byte-level test vocabulary (256 bytes and EOS).
 */
final class BigramTrainer implements LocalTrainer {

    static final int V = ByteShards.VOCAB;
    static final int SKIP_TOKEN = 0xFF;
    static final int POISON_TOKEN = 0xFE;
    private static final float LR = 0.05f;
    private static final float BETA1 = 0.9f;
    private static final float BETA2 = 0.999f;
    private static final float EPS = 1e-8f;

    private final float[] w_VV = new float[V * V];
    private final float[] moments_M = new float[2 * V * V];
    private long steps;
    private final long seed;
    /** Only for the collectives of barrier training (TCP between the tasks). */
    private CpuBackend backend;

    BigramTrainer(long seed) {
        this.seed = seed;
        reset();
    }

    @Override
    public void reset() {
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < w_VV.length; i++) {
            w_VV[i] = (float) (random.nextDouble() - 0.5) * 0.02f;
        }
        java.util.Arrays.fill(moments_M, 0f);
        steps = 0;
    }

    @Override
    public long parameterCount() {
        return w_VV.length;
    }

    @Override
    public void readParameters(long first, long count, MemorySegment dst) {
        MemorySegment.copy(w_VV, (int) first, dst, JAVA_FLOAT, 0, (int) count);
    }

    @Override
    public void writeParameters(long first, long count, MemorySegment src) {
        MemorySegment.copy(src, JAVA_FLOAT, 0, w_VV, (int) first, (int) count);
    }

    @Override
    public void readMoments(long first, long count, MemorySegment dst) {
        MemorySegment.copy(moments_M, (int) first, dst, JAVA_FLOAT, 0, (int) count);
    }

    @Override
    public void writeMoments(long first, long count, MemorySegment src) {
        MemorySegment.copy(src, JAVA_FLOAT, 0, moments_M, (int) first, (int) count);
    }

    @Override
    public long stepCount() {
        return steps;
    }

    @Override
    public void setStepCount(long steps) {
        this.steps = steps;
    }

    @Override
    public void scaleParameters(float factor) {
        for (int i = 0; i < w_VV.length; i++) {
            w_VV[i] *= factor;
        }
    }

    @Override
    public boolean parametersFinite() {
        for (float w : w_VV) {
            if (!Float.isFinite(w)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne) {
        return step(tokens, batch, seqLenPlusOne, null);
    }

    /**
     * As the engine does: the gradient (NaN for a batch with {@link #SKIP_TOKEN}) is averaged over {@code workers}
     * (when given) before the norm, so every rank skips or applies the same update.
     */
    @Override
    public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne, Collective workers) {
        long count = (long) batch * (seqLenPlusOne - 1);
        float[] grad_VV = new float[V * V];
        double loss = 0;
        boolean skip = false;
        for (int t : tokens) {
            skip |= t == SKIP_TOKEN;
        }
        if (skip) {
            java.util.Arrays.fill(grad_VV, Float.NaN);
        } else {
            loss = gradient(tokens, batch, seqLenPlusOne, count, grad_VV);
        }
        if (workers != null) {
            across(workers, grad_VV, Collective::allReduceMean);
        }
        double norm = 0;
        for (float g : grad_VV) {
            norm += g * g;
        }
        if (!Double.isFinite(norm)) {
            return new StepMetrics(skip ? Double.NaN : loss / count, Map.of(), LR, Double.NaN, count, false, List.of());
        }
        float step = ++steps;
        float correction1 = 1 - (float) Math.pow(BETA1, step);
        float correction2 = 1 - (float) Math.pow(BETA2, step);
        int v = V * V;
        for (int i = 0; i < w_VV.length; i++) {
            float g = grad_VV[i];
            moments_M[i] = BETA1 * moments_M[i] + (1 - BETA1) * g;
            moments_M[v + i] = BETA2 * moments_M[v + i] + (1 - BETA2) * g * g;
            w_VV[i] -= LR * (moments_M[i] / correction1) / ((float) Math.sqrt(moments_M[v + i] / correction2) + EPS);
        }
        // Only worker 0 diverges, so a round with several workers always has one to average.
        org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
        for (int t : tokens) {
            if (t == POISON_TOKEN && (task == null || task.partitionId() == 0)) {
                w_VV[0] = Float.NaN;
            }
        }
        return new StepMetrics(loss / count, Map.of("none", 0.0), LR, Math.sqrt(norm), count, true, List.of());
    }

    /** The batch's cross-entropy under the current table, without a step. */
    @Override
    public org.sparkmoe.model.train.EvalMetrics evaluate(int[] tokens, int batch, int seqLenPlusOne) {
        int seqLen = seqLenPlusOne - 1;
        double[] perSequence = new double[batch];
        double total = 0;
        for (int b = 0; b < batch; b++) {
            int[] row = java.util.Arrays.copyOfRange(tokens, b * seqLenPlusOne, (b + 1) * seqLenPlusOne);
            double loss = gradient(row, 1, seqLenPlusOne, seqLen, null);
            perSequence[b] = loss / seqLen;
            total += loss;
        }
        return new org.sparkmoe.model.train.EvalMetrics(total / ((long) batch * seqLen), (long) batch * seqLen,
                perSequence);
    }

    /** The batch's summed loss; its mean gradient goes into {@code grad_VV} (null: the loss only). */
    private double gradient(int[] tokens, int batch, int seqLenPlusOne, long count, float[] grad_VV) {
        double loss = 0;
        float[] p_V = new float[V];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < seqLenPlusOne - 1; i++) {
                int x = tokens[b * seqLenPlusOne + i];
                int y = tokens[b * seqLenPlusOne + i + 1];
                int row = x * V;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < V; j++) {
                    max = Math.max(max, w_VV[row + j]);
                }
                double z = 0;
                for (int j = 0; j < V; j++) {
                    p_V[j] = (float) Math.exp(w_VV[row + j] - max);
                    z += p_V[j];
                }
                loss -= Math.log(p_V[y] / z);
                if (grad_VV == null) {
                    continue;
                }
                for (int j = 0; j < V; j++) {
                    grad_VV[row + j] += (float) (p_V[j] / z) / count;
                }
                grad_VV[row + y] -= 1f / count;
            }
        }
        return loss;
    }

    @Override
    public Collective joinCollective(int rank, int size, Rendezvous rendezvous) {
        return backend().joinCollective(rank, size, rendezvous);
    }

    @Override
    public void sumParameters(Collective workers) {
        across(workers, w_VV, Collective::allReduceSum);
    }

    /** Runs {@code operation} on {@code values} through a tensor of the CPU backend, which the collective works on. */
    private void across(Collective workers, float[] values, java.util.function.BiConsumer<Collective, Tensor> operation) {
        Tensor t = backend().allocate("bigram values", DType.F32, values.length);
        backend().upload(values, 0, t, 0, values.length);
        operation.accept(workers, t);
        backend().download(t, 0, values, 0, values.length);
    }

    private CpuBackend backend() {
        if (backend == null) {
            backend = new CpuBackend(1);
        }
        return backend;
    }

    @Override
    public String backendName() {
        return "cpu (test bigram)";
    }

    @Override
    public void close() {
        if (backend != null) {
            backend.close();
        }
    }

    /** Builds bigram trainers; every one starts from the same parameters for the same seed. */
    record Factory(long seed, String tokenizerHash, int maxSeqLenPlusOne) implements LocalTrainerFactory {

        @Override
        public LocalTrainer create(ComputeDevice device) {
            return new BigramTrainer(seed);
        }

        @Override
        public float[] initialParameters() {
            return new BigramTrainer(seed).w_VV.clone();
        }

        @Override
        public int vocabSize() {
            return V;
        }

        /** The bigram table as the one-line text {@code V} then {@code V*V} values, enough to tell it arrived. */
        @Override
        public void exportModel(long count, VectorRanges.Source params,
                                org.sparkmoe.model.checkpoint.CheckpointFiles files) throws java.io.IOException {
            float[] params_P = new float[(int) count];
            params.read(0, count, MemorySegment.ofArray(params_P));
            try (java.io.OutputStream out = files.create("bigram.txt")) {
                out.write((V + " " + java.util.Arrays.toString(params_P)).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        }

        @Override
        public String describeJson() {
            return "{\"model\":\"test-bigram\",\"vocab_size\":" + V + ",\"seed\":" + seed + "}";
        }
    }
}
