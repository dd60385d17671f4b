package org.sparkmoe.model.backend.cuda;

import java.util.function.BiConsumer;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;

/**
 * The CUDA backend and the CPU backend (the reference) side by side: the same inputs go to both, outputs of the CUDA
 * side are poisoned with NaN before the op, then the two results are compared.
 */
final class BackendPair implements AutoCloseable {

    /** One logical tensor on both backends. */
    record Both(Tensor gpu, Tensor cpu, int size) {
    }

    /** Picks a side's tensor, so one lambda runs the op on both backends. */
    interface Side {
        Tensor of(Both both);
    }

    final CudaBackend gpu;
    final CpuBackend cpu = new CpuBackend(2);

    BackendPair(GemmPrecision precision) {
        this(precision, AttentionPath.GEMM);
    }

    BackendPair(GemmPrecision precision, AttentionPath attentionPath) {
        this(precision, attentionPath, GroupedGemmPath.CUBLAS);
    }

    BackendPair(GemmPrecision precision, AttentionPath attentionPath, GroupedGemmPath groupedPath) {
        this(new CudaBackend(GpuTests.device(), precision, attentionPath, groupedPath));
    }

    /** The CPU backend beside {@code gpu}, which the pair closes. */
    BackendPair(CudaBackend gpu) {
        this.gpu = gpu;
    }

    Both input(String name, float[] values) {
        Both b = new Both(gpu.allocate(name, DType.F32, values.length), cpu.allocate(name, DType.F32, values.length),
                values.length);
        gpu.upload(values, 0, b.gpu(), 0, values.length);
        cpu.upload(values, 0, b.cpu(), 0, values.length);
        return b;
    }

    Both ints(String name, int[] values) {
        Both b = new Both(gpu.allocate(name, DType.I32, values.length), cpu.allocate(name, DType.I32, values.length),
                values.length);
        gpu.uploadInts(values, 0, b.gpu(), 0, values.length);
        cpu.uploadInts(values, 0, b.cpu(), 0, values.length);
        return b;
    }

    /** An output the op overwrites: NaN on the GPU side, so an element the kernel misses shows. */
    Both output(String name, int size) {
        Both b = new Both(gpu.allocate(name, DType.F32, size), cpu.allocate(name, DType.F32, size), size);
        gpu.fill(b.gpu(), Float.NaN);
        return b;
    }

    /** An int output the op overwrites, poisoned with -1 on the GPU side. */
    Both intOutput(String name, int size) {
        Both b = new Both(gpu.allocate(name, DType.I32, size), cpu.allocate(name, DType.I32, size), size);
        int[] poison = new int[size];
        java.util.Arrays.fill(poison, -1);
        gpu.uploadInts(poison, 0, b.gpu(), 0, size);
        return b;
    }

    /** Runs {@code op} on the CUDA backend, then on the CPU backend. */
    void run(BiConsumer<Backend, Side> op) {
        op.accept(gpu, Both::gpu);
        op.accept(cpu, Both::cpu);
    }

    float[] gpuValues(Both b) {
        float[] out = new float[b.size()];
        gpu.download(b.gpu(), 0, out, 0, b.size());
        return out;
    }

    float[] cpuValues(Both b) {
        float[] out = new float[b.size()];
        cpu.download(b.cpu(), 0, out, 0, b.size());
        return out;
    }

    int[] gpuInts(Both b) {
        int[] out = new int[b.size()];
        gpu.downloadInts(b.gpu(), 0, out, 0, b.size());
        return out;
    }

    int[] cpuInts(Both b) {
        int[] out = new int[b.size()];
        cpu.downloadInts(b.cpu(), 0, out, 0, b.size());
        return out;
    }

    void assertClose(String what, Both b, double tolerance) {
        Checks.assertClose(what, gpuValues(b), cpuValues(b), tolerance);
    }

    /** Frees both sides' tensors (the shared GPU stays open for the next test). */
    @Override
    public void close() {
        gpu.close();
        cpu.close();
    }
}
