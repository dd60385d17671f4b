package org.sparkmoe.jobs.train.bench;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
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
import org.sparkmoe.model.checkpoint.VectorRanges;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;
import org.sparkmoe.model.train.EvalMetrics;

/**
 * A {@link LocalTrainer} that does no training work, for measuring what synchronising the workers costs and nothing
 * else: it holds P parameters and AdamW-sized moments (2P values: m, v) in CPU-backend
 * tensors as the engine does, so every path moves the same vectors the engine would; a step only counts its tokens
 * (with gradients averaged when data parallel, through a P-sized gradient tensor).
 */
public final class NoWorkTrainer implements LocalTrainer {

    private final CpuBackend backend = new CpuBackend(1);
    private final int parameters;
    private final Tensor params_P;
    private final Tensor moments_M;
    private long steps;
    private Tensor grads_P;

    NoWorkTrainer(int parameters) {
        this.parameters = parameters;
        this.params_P = backend.allocate("no-work parameters", DType.F32, parameters);
        this.moments_M = backend.allocate("no-work optimiser moments", DType.F32, 2L * parameters);
        reset();
    }

    @Override
    public long parameterCount() {
        return parameters;
    }

    @Override
    public void readParameters(long first, long count, MemorySegment dst) {
        backend.download(params_P, first, dst, 0, count);
    }

    @Override
    public void writeParameters(long first, long count, MemorySegment src) {
        backend.upload(src, 0, params_P, first, count);
    }

    @Override
    public void readMoments(long first, long count, MemorySegment dst) {
        backend.download(moments_M, first, dst, 0, count);
    }

    @Override
    public void writeMoments(long first, long count, MemorySegment src) {
        backend.upload(src, 0, moments_M, first, count);
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
    public void reset() {
        writeParameters(Factory.initialValues(parameters));
        backend.fill(moments_M, 0f);
        steps = 0;
    }

    @Override
    public void scaleParameters(float factor) {
        backend.scale(params_P, factor);
    }

    @Override
    public boolean parametersFinite() {
        return true;
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

    /** Like its steps: no work, the tokens counted and the same fixed loss, so a bench can time validation's reads. */
    @Override
    public EvalMetrics evaluate(int[] tokens, int batch, int seqLenPlusOne) {
        double[] perSequence = new double[batch];
        java.util.Arrays.fill(perSequence, 1.0);
        return new EvalMetrics(1.0, (long) batch * (seqLenPlusOne - 1), perSequence);
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
            return initialValues(parameters);
        }

        static float[] initialValues(int parameters) {
            float[] v = new float[parameters];
            for (int i = 0; i < v.length; i++) {
                v[i] = (i % 1000) * 1e-3f;
            }
            return v;
        }

        @Override
        public long parameterCount() {
            return parameters;
        }

        @Override
        public String describeJson() {
            return "{\"model\":\"no-work\",\"parameters\":" + parameters + "}";
        }

        /** A one-line stand-in: the bench measures rounds, not the final export. */
        @Override
        public void exportModel(long count, VectorRanges.Source params, CheckpointFiles files) throws IOException {
            try (OutputStream out = files.create("no-work.txt")) {
                out.write((count + " parameters\n").getBytes(StandardCharsets.UTF_8));
            }
        }
    }
}
