package org.sparkmoe.jobs.train.bench;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.sparkmoe.jobs.train.ComputeDevice;
import org.sparkmoe.jobs.train.LocalTrainer;
import org.sparkmoe.jobs.train.LocalTrainerFactory;
import org.sparkmoe.jobs.train.StepMetrics;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.CheckpointFiles;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * A {@link LocalTrainer} that does no training work, for measuring what synchronising the workers costs and nothing
 * else: it holds P parameters and an AdamW-sized optimiser state (2P + 1 values: m, v, step count) in CPU-backend
 * tensors as the engine does, so every path moves the same vectors the engine would; a step only counts its tokens
 * (with gradients averaged when data parallel, through a P-sized gradient tensor).
 */
public final class NoWorkTrainer implements LocalTrainer {

    private final CpuBackend backend = new CpuBackend(1);
    private final int parameters;
    private final Tensor params_P;
    private final Tensor state_S;
    private Tensor grads_P;

    NoWorkTrainer(int parameters) {
        this.parameters = parameters;
        this.params_P = backend.allocate("no-work parameters", DType.F32, parameters);
        this.state_S = backend.allocate("no-work optimiser state", DType.F32, 2L * parameters + 1);
    }

    @Override
    public int parameterCount() {
        return parameters;
    }

    @Override
    public int optimizerStateSize() {
        return 2 * parameters + 1;
    }

    @Override
    public void readParameters(float[] into) {
        backend.download(params_P, 0, into, 0, parameters);
    }

    @Override
    public void writeParameters(float[] from) {
        backend.upload(from, 0, params_P, 0, parameters);
    }

    @Override
    public void readOptimizerState(float[] into) {
        backend.download(state_S, 0, into, 0, optimizerStateSize());
    }

    @Override
    public void writeOptimizerState(float[] from) {
        backend.upload(from, 0, state_S, 0, optimizerStateSize());
    }

    @Override
    public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne) {
        return new StepMetrics(1.0, Map.of(), 0.0, 0.0, (long) batch * (seqLenPlusOne - 1), true, List.of());
    }

    @Override
    public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne, Collective workers) {
        if (grads_P == null) {
            grads_P = backend.allocate("no-work gradients", DType.F32, parameters);
        }
        workers.allReduceMean(grads_P);
        return step(tokens, batch, seqLenPlusOne);
    }

    @Override
    public Collective joinCollective(int rank, int size, Rendezvous rendezvous) {
        return backend.joinCollective(rank, size, rendezvous);
    }

    @Override
    public void sumParameters(Collective workers) {
        workers.allReduceSum(params_P);
    }

    @Override
    public String backendName() {
        return "cpu (no-work trainer)";
    }

    @Override
    public void close() {
        backend.close();
    }

    /** No-work trainers of {@code parameters} parameters, starting from a fixed non-zero vector. */
    public record Factory(int parameters, String tokenizerHash, int vocabSize, int maxSeqLenPlusOne)
            implements LocalTrainerFactory {

        @Override
        public LocalTrainer create(ComputeDevice device) {
            return new NoWorkTrainer(parameters);
        }

        @Override
        public float[] initialParameters() {
            float[] v = new float[parameters];
            for (int i = 0; i < v.length; i++) {
                v[i] = (i % 1000) * 1e-3f;
            }
            return v;
        }

        @Override
        public int parameterCount() {
            return parameters;
        }

        @Override
        public String describeJson() {
            return "{\"model\":\"no-work\",\"parameters\":" + parameters + "}";
        }

        /** A one-line stand-in: the bench measures rounds, not the final export. */
        @Override
        public void exportModel(float[] params_P, CheckpointFiles files) throws IOException {
            try (OutputStream out = files.create("no-work.txt")) {
                out.write((params_P.length + " parameters\n").getBytes(StandardCharsets.UTF_8));
            }
        }
    }
}
