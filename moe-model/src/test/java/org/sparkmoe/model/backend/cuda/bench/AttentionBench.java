package org.sparkmoe.model.backend.cuda.bench;

import static org.sparkmoe.model.backend.cuda.bench.BenchFigures.relativeError;
import static org.sparkmoe.model.backend.cuda.bench.BenchFigures.tflops;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.CudaBackend;
import org.sparkmoe.model.backend.cuda.CudaDevice;
import org.sparkmoe.model.backend.cuda.DeviceSelection;
import org.sparkmoe.model.backend.cuda.FlashKernels;
import org.sparkmoe.model.backend.cuda.GemmPrecision;

/**
 * Causal attention alone on the CUDA backend, each {@link AttentionPath} (GEMM, FUSED, FLASH, bf16 GEMM precision;
 * FLASH once per {@link FlashKernels} family the GPU runs, wgmma on a Hopper and mma.sync) at the attention shape of the anchor's configs (val2b: 8 × 2048, 10 heads of 128; small: 16 × 1024, 8 heads of
 * 64): forward and backward timed with CUDA events (median of several warm calls, everything the path launches
 * included: bf16 casts, delta, kernels), with TFLOP/s by the usual count: forward {@code 4·B·H·T²·Dh} halved for the
 * causal mask, backward 2.5 × forward (5 products to the forward's 2, whatever a path recomputes). Each path's outputs
 * are compared with the GEMM path's on the same inputs. Run: {@code java ... AttentionBench val2b small} (a table, then
 * one JSON line per config and path).
 *
 * <p>Legend: B batch, T sequence, H heads, Dh head dim; q, k, v, out, dOut, dq, dk, dv {@code [B, T, H, Dh]}; lse
 * {@code [B, H, T]}.
 */
public final class AttentionBench {

    private static final int WARM = 2;
    private static final int TIMED = 7;
    private static final String[] OUTPUTS = {"out", "dq", "dk", "dv"};

    private AttentionBench() {
    }

    /** One path's medians, and its outputs (out, dq, dk, dv) for the comparison. */
    private record Timing(double forwardMillis, double backwardMillis, float[][] outputs) {
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            throw new IllegalArgumentException("usage: AttentionBench CONFIG... (val2b, small)");
        }
        try (CudaDevice device = CudaDevice.open(new DeviceSelection(0, "AttentionBench"))) {
            StringBuilder json = new StringBuilder();
            System.out.printf(Locale.ROOT, "%-6s %-13s %10s %8s %10s %8s %10s %8s   %s%n", "config", "path", "fwd ms",
                    "TFLOP/s", "bwd ms", "TFLOP/s", "total ms", "TFLOP/s", "relative error against GEMM (2-norm)");
            for (String name : args) {
                StepShape shape = StepShape.named(name);
                int b = shape.batch();
                int t = shape.seqLen();
                int h = shape.heads();
                int dh = shape.headDim();
                double forwardFlops = 4.0 * b * h * t * (double) t * dh / 2;
                float[][] inputs = inputs(b * t * h * dh);
                float[][] reference = null;
                for (String path : paths(device)) {
                    Timing timing;
                    try (CudaBackend backend = backend(device, path)) {
                        timing = time(device, backend, inputs, b, t, h, dh);
                    }
                    if (reference == null) {
                        reference = timing.outputs();
                    }
                    double fwd = timing.forwardMillis();
                    double bwd = timing.backwardMillis();
                    StringBuilder errors = new StringBuilder();
                    for (int i = 0; i < OUTPUTS.length; i++) {
                        errors.append(String.format(Locale.ROOT, "%s %.1e  ", OUTPUTS[i],
                                relativeError(timing.outputs()[i], reference[i])));
                    }
                    System.out.printf(Locale.ROOT, "%-6s %-13s %10.2f %8.1f %10.2f %8.1f %10.2f %8.1f   %s%n", name,
                            path, fwd, tflops(forwardFlops, fwd), bwd, tflops(2.5 * forwardFlops, bwd), fwd + bwd,
                            tflops(3.5 * forwardFlops, fwd + bwd), errors.toString().strip());
                    json.append(String.format(Locale.ROOT, "{\"attention\":true,\"config\":\"%s\",\"path\":\"%s\","
                            + "\"batch\":%d,\"seq_len\":%d,\"heads\":%d,\"head_dim\":%d,\"fwd_ms\":%.3f,"
                            + "\"bwd_ms\":%.3f,\"fwd_TFLOPs\":%.1f,\"bwd_TFLOPs\":%.1f,\"total_TFLOPs\":%.1f}%n", name,
                            path, b, t, h, dh, fwd, bwd, tflops(forwardFlops, fwd), tflops(2.5 * forwardFlops, bwd),
                            tflops(3.5 * forwardFlops, fwd + bwd)));
                }
            }
            System.out.print(json);
        }
    }

    /** GEMM (the reference), FUSED, then FLASH on each kernel family this GPU runs (AUTO is one of these). */
    private static List<String> paths(CudaDevice device) {
        List<String> paths = new ArrayList<>(List.of(AttentionPath.GEMM.name(), AttentionPath.FUSED.name()));
        for (FlashKernels kernels : FlashKernels.values()) {
            if (kernels != FlashKernels.WGMMA || FlashKernels.forDevice(device.info()) == FlashKernels.WGMMA) {
                paths.add(flashPath(kernels));
            }
        }
        return paths;
    }

    private static String flashPath(FlashKernels kernels) {
        return "FLASH " + kernels.name().toLowerCase(Locale.ROOT).replace('_', '.');
    }

    private static CudaBackend backend(CudaDevice device, String path) {
        for (FlashKernels kernels : FlashKernels.values()) {
            if (path.equals(flashPath(kernels))) {
                return CudaBackend.withFlashKernels(device, kernels);
            }
        }
        return new CudaBackend(device, GemmPrecision.BF16, AttentionPath.valueOf(path));
    }

    /** q, k, v, dOut: uniform with standard deviation 1 (scores of standard deviation about 1 after the 1/√Dh). */
    private static float[][] inputs(int n) {
        Random random = new Random(11);
        float[][] x = new float[4][n];
        for (float[] values : x) {
            for (int i = 0; i < n; i++) {
                values[i] = (random.nextFloat() - 0.5f) * 3.4641f;
            }
        }
        return x;
    }

    private static Timing time(CudaDevice device, CudaBackend backend, float[][] inputs, int b, int t, int h, int dh) {
        int n = inputs[0].length;
        Tensor q = upload(backend, "q", inputs[0]);
        Tensor k = upload(backend, "k", inputs[1]);
        Tensor v = upload(backend, "v", inputs[2]);
        Tensor dOut = upload(backend, "dOut", inputs[3]);
        Tensor out = backend.allocate("out", DType.F32, n);
        Tensor lse = backend.allocate("lse", DType.F32, (long) b * h * t);
        Tensor dq = backend.allocate("dq", DType.F32, n);
        Tensor dk = backend.allocate("dk", DType.F32, n);
        Tensor dv = backend.allocate("dv", DType.F32, n);
        Runnable forward = () -> backend.attentionForward(q, k, v, out, lse, b, t, h, dh);
        Runnable backward = () -> backend.attentionBackward(dOut, q, k, v, out, lse, dq, dk, dv, b, t, h, dh);
        for (int i = 0; i < WARM; i++) {
            forward.run();
            backward.run();
        }
        double[] fwd = new double[TIMED];
        double[] bwd = new double[TIMED];
        for (int i = 0; i < TIMED; i++) {
            fwd[i] = device.time(forward);
            bwd[i] = device.time(backward);
        }
        Arrays.sort(fwd);
        Arrays.sort(bwd);
        float[][] outputs = new float[OUTPUTS.length][n];
        Tensor[] results = {out, dq, dk, dv};
        for (int i = 0; i < results.length; i++) {
            backend.download(results[i], 0, outputs[i], 0, n);
        }
        return new Timing(fwd[TIMED / 2], bwd[TIMED / 2], outputs);
    }

    private static Tensor upload(CudaBackend backend, String name, float[] values) {
        Tensor t = backend.allocate(name, DType.F32, values.length);
        backend.upload(values, 0, t, 0, values.length);
        return t;
    }
}
