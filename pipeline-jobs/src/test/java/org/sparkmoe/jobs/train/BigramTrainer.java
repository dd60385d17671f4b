package org.sparkmoe.jobs.train;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * A test-only engine until the real one is wired in: a byte-level bigram language model (logits table
 * {@code W_VV}) trained by Adam, small enough to run in a Spark task in milliseconds. Two byte values that never
 * occur in UTF-8 text act as failure probes: {@link #SKIP_TOKEN} makes the step report a non-finite loss and skip
 * itself (as the engine must), {@link #POISON_TOKEN} makes the parameters non-finite (a diverged worker).
 *
 * <p>Legend: V vocabulary, S optimiser state (1 + 2·V·V: step count, first and second moments).
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
    private final float[] state_S = new float[1 + 2 * V * V];
    /** Only for the collectives of barrier training (TCP between the tasks). */
    private CpuBackend backend;

    BigramTrainer(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < w_VV.length; i++) {
            w_VV[i] = (float) (random.nextDouble() - 0.5) * 0.02f;
        }
    }

    @Override
    public int parameterCount() {
        return w_VV.length;
    }

    @Override
    public int optimizerStateSize() {
        return state_S.length;
    }

    @Override
    public void readParameters(float[] into) {
        System.arraycopy(w_VV, 0, into, 0, w_VV.length);
    }

    @Override
    public void writeParameters(float[] from) {
        System.arraycopy(from, 0, w_VV, 0, w_VV.length);
    }

    @Override
    public void readOptimizerState(float[] into) {
        System.arraycopy(state_S, 0, into, 0, state_S.length);
    }

    @Override
    public void writeOptimizerState(float[] from) {
        System.arraycopy(from, 0, state_S, 0, state_S.length);
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
        float step = ++state_S[0];
        float correction1 = 1 - (float) Math.pow(BETA1, step);
        float correction2 = 1 - (float) Math.pow(BETA2, step);
        int m = 1;
        int v = 1 + V * V;
        for (int i = 0; i < w_VV.length; i++) {
            float g = grad_VV[i];
            state_S[m + i] = BETA1 * state_S[m + i] + (1 - BETA1) * g;
            state_S[v + i] = BETA2 * state_S[v + i] + (1 - BETA2) * g * g;
            w_VV[i] -= LR * (state_S[m + i] / correction1) / ((float) Math.sqrt(state_S[v + i] / correction2) + EPS);
        }
        for (int t : tokens) {
            if (t == POISON_TOKEN) {
                w_VV[0] = Float.NaN;
            }
        }
        return new StepMetrics(loss / count, Map.of("none", 0.0), LR, Math.sqrt(norm), count, true, List.of());
    }

    /** The batch's summed loss; its mean gradient goes into {@code grad_VV}. */
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
        public void exportModel(float[] params_P, org.sparkmoe.model.checkpoint.CheckpointFiles files)
                throws java.io.IOException {
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
