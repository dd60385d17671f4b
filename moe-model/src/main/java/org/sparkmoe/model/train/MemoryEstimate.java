package org.sparkmoe.model.train;

import java.lang.reflect.Proxy;
import java.util.Locale;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.Workload;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;

/**
 * The bytes an engine will allocate on its backend, computed before anything is allocated: the model is built once
 * on a sizing backend that only counts (the same constructor code that allocates for real, so the estimate cannot
 * drift from it), plus AdamW's m and v when training, plus the backend's own workspace for these shapes. An
 * expert-parallel rank counts its own parameters and its expert buffers at their first size (balanced routing; they
 * grow with the routing's imbalance).
 *
 * @param parameterBytes  the fp32 parameter arena
 * @param gradientBytes   the gradient arena (0 for inference)
 * @param optimizerBytes  AdamW's m and v (0 for inference)
 * @param activationBytes every other tensor the model allocates (activations, backward buffers, scalars)
 * @param workspaceBytes  the backend's scratch for these shapes and its image of the parameters, if it keeps one
 *                        ({@link Backend#workspaceBytes})
 */
public record MemoryEstimate(long parameterBytes, long gradientBytes, long optimizerBytes, long activationBytes,
                             long workspaceBytes) {

    /** What an engine of {@code model} with micro-batches of {@code microBatch} sequences needs on {@code backend}. */
    public static MemoryEstimate of(ModelConfig model, int microBatch, boolean training, Backend backend) {
        return of(model, microBatch, training, backend, null, false);
    }

    /**
     * {@link #of(ModelConfig, int, boolean, Backend)} for a rank of {@code expertParallel} (null: whole model), a
     * training engine recomputing the attention's q, k, v in backward if {@code recomputeAttention}
     * ({@link TrainConfig#recomputeAttention()}; an inference engine has no backward and ignores it).
     */
    public static MemoryEstimate of(ModelConfig model, int microBatch, boolean training, Backend backend,
                                    Collective expertParallel, boolean recomputeAttention) {
        MemoryEstimate tensors = tensors(model, microBatch, training, expertParallel, recomputeAttention);
        return new MemoryEstimate(tensors.parameterBytes, tensors.gradientBytes, tensors.optimizerBytes,
                tensors.activationBytes, backend.workspaceBytes(workload(model, microBatch, training,
                tensors.parameterBytes / 4)));
    }

    /** The engine's tensors alone, whatever the backend (workspace 0): for reports without a backend. */
    public static MemoryEstimate tensors(ModelConfig model, int microBatch, boolean training) {
        return tensors(model, microBatch, training, null, false);
    }

    /**
     * {@link #tensors(ModelConfig, int, boolean)} for a training rank of {@code expertParallel} (null: whole model;
     * only the collective's rank and size are read), recomputing the attention's q, k, v in backward if
     * {@code recomputeAttention} (training only).
     */
    public static MemoryEstimate tensors(ModelConfig model, int microBatch, boolean training,
                                         Collective expertParallel, boolean recomputeAttention) {
        long[] bytes = new long[3];  // parameters, gradients, the rest
        Backend sizing = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "allocateParameters" -> {
                        bytes[0] += 4 * (long) args[1];
                        yield new Sized((String) args[0], DType.F32, (long) args[1]);
                    }
                    case "allocate" -> {
                        String name = (String) args[0];
                        bytes[name.equals("gradients") ? 1 : 2] += 4 * (long) args[2];
                        yield new Sized(name, (DType) args[1], (long) args[2]);
                    }
                    // In fp32, as a backend without a converted operand form stores it (the CUDA backend at bf16
                    // needs half).
                    case "allocateOperand" -> {
                        bytes[2] += 4 * (long) args[1];
                        yield new Sized((String) args[0], DType.F32, (long) args[1]);
                    }
                    case "view" -> new Sized((String) args[1], ((Tensor) args[0]).dtype(), (long) args[3]);
                    case "describe" -> "memory estimate";
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    case "toString" -> "memory estimate";
                    default -> throw new UnsupportedOperationException("the memory estimate only allocates; "
                            + method.getName() + " was called while building the model");
                });
        int rows = microBatch * model.maxSeqLen();
        if (training || expertParallel != null) {
            new DeepSeekMoeModel(model, sizing, rows, expertParallel, recomputeAttention);
        } else {
            new DeepSeekMoeModel(model, sizing, rows, false);
        }
        long optimizer = training ? 2 * bytes[0] : 0;
        return new MemoryEstimate(bytes[0], bytes[1], optimizer, bytes[2], 0);
    }

    /** The shapes an engine of {@code model} with {@code parameters} parameters runs, as a backend sizes its workspace. */
    static Workload workload(ModelConfig model, int microBatch, boolean training, long parameters) {
        boolean moe = model.moeLayerCount() > 0;
        return new Workload(microBatch, model.maxSeqLen(), model.hiddenSize(), model.numHeads(), model.vocabSize(),
                DeepSeekMoeModel.widestFfn(model), moe ? model.nRoutedExperts() : 0,
                moe ? model.numExpertsPerTok() : 0, moe ? model.moeIntermediateSize() : 0, training, parameters);
    }

    /** Every tensor the engine allocates (what the backend's {@link Backend#allocatedBytes} reads after creation). */
    public long tensorBytes() {
        return parameterBytes + gradientBytes + optimizerBytes + activationBytes;
    }

    /** Tensors and workspace. */
    public long totalBytes() {
        return tensorBytes() + workspaceBytes;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s (parameters %s, gradients %s, AdamW state %s, activations %s,"
                        + " backend workspace %s)", gib(totalBytes()), gib(parameterBytes), gib(gradientBytes),
                gib(optimizerBytes), gib(activationBytes), gib(workspaceBytes));
    }

    /** Bytes as GiB with two decimals (MiB under 1 GiB). */
    public static String gib(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30))
                : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }

    /** What the sizing backend hands out: a name, a type and a size, no storage. */
    private record Sized(String name, DType dtype, long size) implements Tensor {
    }
}
