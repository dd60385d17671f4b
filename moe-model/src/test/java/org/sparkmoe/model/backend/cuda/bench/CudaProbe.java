package org.sparkmoe.model.backend.cuda.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.sparkmoe.model.backend.cuda.CudaDevice;
import org.sparkmoe.model.backend.cuda.CudaException;
import org.sparkmoe.model.backend.cuda.Cublas;
import org.sparkmoe.model.backend.cuda.DeviceBuffer;
import org.sparkmoe.model.backend.cuda.DeviceSelection;
import org.sparkmoe.model.backend.cuda.Dim3;
import org.sparkmoe.model.backend.cuda.ElementType;

/**
 * Two questions the step profile raises, answered on the GPU machine: what one host call costs (a kernel launch, a
 * small cuBLAS GEMM, a wait on an idle stream, a 4-byte copy each way), and how the experts' grouped GEMMs run as one
 * {@code cublasGemmGroupedBatchedEx} with each operand/output type cuBLAS might accept, against one
 * {@code cublasGemmEx} per expert. Expert shapes of the anchor's configs, tokens routed uniformly at random.
 * Run: {@code java ... CudaProbe val2b small}.
 *
 * <p>Legend: S slots (tokens × top-K), E experts, D width, I expert width.
 */
public final class CudaProbe {

    private CudaProbe() {
    }

    private static void hostCosts(CudaDevice device) {
        try (DeviceBuffer one = device.allocate(64 * 64, ElementType.F32);
                DeviceBuffer a = device.allocate(64 * 64, ElementType.BF16);
                DeviceBuffer c = device.allocate(64 * 64, ElementType.F32)) {
            int n = 2000;
            double launch = hostMicros(n, () -> device.launch("fill_f32", Dim3.of(1), Dim3.of(32), 0, one, 0f, 1L));
            device.synchronize();
            double gemm = hostMicros(n, () -> device.cublas().gemm(ElementType.BF16, ElementType.F32, false, true, 64, 64,
                    64, 1f, a.pointer(), 64, a.pointer(), 64, 0f, c.pointer(), 64));
            device.synchronize();
            double wait = hostMicros(200, device::synchronize);
            double download = hostMicros(200, () -> one.downloadFloats(1));
            double upload = hostMicros(200, () -> one.upload(new float[] {1f}));
            System.out.printf(Locale.ROOT, "host cost per call (us): launch %.2f, cuBLAS GEMM 64^3 %.2f, wait on idle"
                    + " stream %.2f, 4-byte download %.2f, 4-byte upload %.2f%n", launch, gemm, wait, download, upload);
        }
    }

    private static double hostMicros(int times, Runnable call) {
        for (int i = 0; i < times / 4; i++) {
            call.run();
        }
        long t0 = System.nanoTime();
        for (int i = 0; i < times; i++) {
            call.run();
        }
        return (System.nanoTime() - t0) / 1e3 / times;
    }

    private record Shape(String name, int slots, int experts, int dim, int width) {
        static Shape named(String name) {
            return switch (name) {
                case "val2b" -> new Shape(name, 16384 * 7, 63, 1280, 864);
                case "small" -> new Shape(name, 16384 * 3, 31, 512, 352);
                default -> throw new IllegalArgumentException("unknown probe shape " + name);
            };
        }
    }

    /** Groups' row counts (uniform random routing) and the pointer tables of one grouped call. */
    private static void grouped(CudaDevice device, Shape s) {
        Random random = new Random(5);
        int[] counts = new int[s.experts()];
        for (int i = 0; i < s.slots(); i++) {
            counts[random.nextInt(s.experts())]++;
        }
        long sd = (long) s.slots() * s.dim();
        long si = (long) s.slots() * s.width();
        long eid = (long) s.experts() * s.width() * s.dim();
        try (DeviceBuffer x16 = device.allocate(sd, ElementType.BF16); DeviceBuffer w16 = device.allocate(eid, ElementType.BF16);
                DeviceBuffer x32 = device.allocate(sd, ElementType.F32); DeviceBuffer w32 = device.allocate(eid, ElementType.F32);
                DeviceBuffer y32 = device.allocate(si, ElementType.F32); DeviceBuffer y16 = device.allocate(si, ElementType.BF16);
                DeviceBuffer dw32 = device.allocate(eid, ElementType.F32); DeviceBuffer dw16 = device.allocate(eid, ElementType.BF16);
                DeviceBuffer table = device.allocate(6L * s.experts(), ElementType.F32)) {
            for (DeviceBuffer b : List.of(x16, w16, x32, w32, y32, y16, dw32, dw16)) {
                b.fill32(0x3c003c00);  // bf16 pair (0.0078, 0.0078) / fp32 0.0078: finite, non-zero
            }
            double flops = 2.0 * s.slots() * s.width() * s.dim();
            List<String> rows = new ArrayList<>();
            // forward-shaped: y_g [rows_g, I] = x_g [rows_g, D] · w_g [I, D]^T
            rows.add(time(device, "fwd loop bf16->f32", flops, () -> loopForward(device, s, counts, x16, w16, y32,
                    ElementType.BF16, ElementType.F32)));
            int[] moving = counts.clone();
            rows.add(time(device, "fwd loop, new counts each", flops, () -> {
                shiftOneRow(moving, random);
                loopForward(device, s, moving, x16, w16, y32, ElementType.BF16, ElementType.F32);
            }));
            rows.add(time(device, "fwd grouped, new counts each", flops, () -> {
                shiftOneRow(moving, random);
                groupedForward(device, s, moving, table, x16, w16, y16, ElementType.BF16, ElementType.BF16,
                        Cublas.Compute.F32);
            }));
            rows.add(time(device, "fwd loop bf16->bf16", flops, () -> loopForward(device, s, counts, x16, w16, y16,
                    ElementType.BF16, ElementType.BF16)));
            rows.add(time(device, "fwd grouped bf16->bf16", flops, () -> groupedForward(device, s, counts, table, x16, w16,
                    y16, ElementType.BF16, ElementType.BF16, Cublas.Compute.F32)));
            rows.add(time(device, "fwd grouped bf16->f32", flops, () -> groupedForward(device, s, counts, table, x16, w16,
                    y32, ElementType.BF16, ElementType.F32, Cublas.Compute.F32)));
            rows.add(time(device, "fwd grouped f32 fast-bf16", flops, () -> groupedForward(device, s, counts, table, x32,
                    w32, y32, ElementType.F32, ElementType.F32, Cublas.Compute.F32_FAST_BF16)));
            // weight-gradient-shaped: dw_g [I, D] += y_g [rows_g, I]^T · x_g [rows_g, D]
            rows.add(time(device, "dW loop bf16->f32", flops, () -> loopWeightGrad(device, s, counts, y16, x16, dw32,
                    ElementType.BF16, ElementType.F32)));
            rows.add(time(device, "dW grouped bf16->bf16", flops, () -> groupedWeightGrad(device, s, counts, table, y16,
                    x16, dw16, ElementType.BF16, ElementType.BF16, Cublas.Compute.F32)));
            rows.add(time(device, "dW grouped f32 fast-bf16", flops, () -> groupedWeightGrad(device, s, counts, table, y32,
                    x32, dw32, ElementType.F32, ElementType.F32, Cublas.Compute.F32_FAST_BF16)));
            System.out.printf(Locale.ROOT, "grouped GEMM probe %s (S=%d, E=%d, D=%d, I=%d, %.1f GFLOP per call):%n",
                    s.name(), s.slots(), s.experts(), s.dim(), s.width(), flops / 1e9);
            rows.forEach(r -> System.out.println("  " + r));
        }
    }

    /** Moves one row from one group to another: the same work with row counts cuBLAS has not seen yet. */
    private static void shiftOneRow(int[] counts, Random random) {
        int from = random.nextInt(counts.length);
        int to = random.nextInt(counts.length);
        if (counts[from] > 1) {
            counts[from]--;
            counts[to]++;
        }
    }

    private static String time(CudaDevice device, String name, double flops, Runnable call) {
        try {
            call.run();
            call.run();
            device.synchronize();
            double[] ms = new double[5];
            long t0 = System.nanoTime();
            for (int i = 0; i < ms.length; i++) {
                ms[i] = device.time(call);
            }
            double hostMs = (System.nanoTime() - t0) / 1e6 / ms.length;
            java.util.Arrays.sort(ms);
            return String.format(Locale.ROOT, "%-28s %8.3f ms  %6.0f TFLOP/s  (host %.3f ms per call incl. wait)", name,
                    ms[2], flops / (ms[2] / 1e3) / 1e12, hostMs);
        } catch (CudaException e) {
            return String.format(Locale.ROOT, "%-28s refused: %s", name, e.getMessage());
        }
    }

    private static void loopForward(CudaDevice device, Shape s, int[] counts, DeviceBuffer x, DeviceBuffer w,
            DeviceBuffer y, ElementType in, ElementType out) {
        long row = 0;
        for (int g = 0; g < counts.length; g++) {
            device.cublas().gemm(in, out, false, true, counts[g], s.width(), s.dim(), 1f,
                    x.pointer() + row * s.dim() * in.bytes, s.dim(),
                    w.pointer() + (long) g * s.width() * s.dim() * in.bytes, s.dim(), 0f,
                    y.pointer() + row * s.width() * out.bytes, s.width());
            row += counts[g];
        }
    }

    private static void loopWeightGrad(CudaDevice device, Shape s, int[] counts, DeviceBuffer y, DeviceBuffer x,
            DeviceBuffer dw, ElementType in, ElementType out) {
        long row = 0;
        for (int g = 0; g < counts.length; g++) {
            device.cublas().gemm(in, out, true, false, s.width(), s.dim(), counts[g], 1f,
                    y.pointer() + row * s.width() * in.bytes, s.width(), x.pointer() + row * s.dim() * in.bytes, s.dim(),
                    1f, dw.pointer() + (long) g * s.width() * s.dim() * out.bytes, s.dim());
            row += counts[g];
        }
    }

    private static void groupedForward(CudaDevice device, Shape s, int[] counts, DeviceBuffer table, DeviceBuffer x,
            DeviceBuffer w, DeviceBuffer y, ElementType in, ElementType out, Cublas.Compute compute) {
        int e = counts.length;
        long[] pointers = new long[3 * e];
        long row = 0;
        int[] m = new int[e];
        int[] n = new int[e];
        int[] k = new int[e];
        for (int g = 0; g < e; g++) {
            pointers[g] = x.pointer() + row * s.dim() * in.bytes;
            pointers[e + g] = w.pointer() + (long) g * s.width() * s.dim() * in.bytes;
            pointers[2 * e + g] = y.pointer() + row * s.width() * out.bytes;
            m[g] = counts[g];
            n[g] = s.width();
            k[g] = s.dim();
            row += counts[g];
        }
        table.upload(pointers);
        device.cublas().gemmGrouped(in, out, compute, false, true, m, n, k, 0f, table.pointer(), s.dim(),
                table.pointer() + 8L * e, s.dim(), table.pointer() + 16L * e, s.width());
    }

    private static void groupedWeightGrad(CudaDevice device, Shape s, int[] counts, DeviceBuffer table, DeviceBuffer y,
            DeviceBuffer x, DeviceBuffer dw, ElementType in, ElementType out, Cublas.Compute compute) {
        int e = counts.length;
        long[] pointers = new long[3 * e];
        long row = 0;
        int[] m = new int[e];
        int[] n = new int[e];
        int[] k = new int[e];
        for (int g = 0; g < e; g++) {
            pointers[g] = y.pointer() + row * s.width() * in.bytes;
            pointers[e + g] = x.pointer() + row * s.dim() * in.bytes;
            pointers[2 * e + g] = dw.pointer() + (long) g * s.width() * s.dim() * out.bytes;
            m[g] = s.width();
            n[g] = s.dim();
            k[g] = counts[g];
            row += counts[g];
        }
        table.upload(pointers);
        device.cublas().gemmGrouped(in, out, compute, true, false, m, n, k, 1f, table.pointer(), s.width(),
                table.pointer() + 8L * e, s.dim(), table.pointer() + 16L * e, s.dim());
    }

    public static void main(String[] args) {
        try (CudaDevice device = CudaDevice.open(new DeviceSelection(0, "CudaProbe"))) {
            hostCosts(device);
            for (String name : args) {
                grouped(device, Shape.named(name));
            }
        }
    }
}
