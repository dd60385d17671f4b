package org.sparkmoe.model.backend.cpu.bench;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import java.util.ArrayList;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.openjdk.jmh.annotations.Param;
import org.sparkmoe.model.backend.cpu.CpuThreadPool;
import org.sparkmoe.model.backend.cpu.Gemm;
import org.sparkmoe.model.backend.cpu.GemmCase;
import org.sparkmoe.model.backend.cpu.GroupedGemm;

/**
 * Prints a table of our {@link Gemm} against OpenBLAS on the shapes of {@link GemmBenchmark}, for a shared machine:
 * each repetition times one Java and one OpenBLAS call back to back, so both see the same load, and the table shows
 * medians of GFLOP/s and the median of the per-pair ratio (Java / OpenBLAS throughput).
 *
 * <p>Arguments: {@code threads=1,2} (comma list), {@code seconds=3} (measuring time per shape and thread count,
 * after one second of warm-up), {@code shapes=NT:2048x1280x1280,...} (default: all of GemmBenchmark's; a shape
 * {@code GNT:GxRxNxK} times the grouped MoE forward over G experts of R rows against one OpenBLAS call per expert).
 */
public final class GemmVsOpenBlas {
    private GemmVsOpenBlas() {}

    public static void main(String[] args) throws ReflectiveOperationException {
        int[] threadCounts = {1, 2};
        double seconds = 3;
        String[] shapes = GemmBenchmark.class.getField("shape").getAnnotation(Param.class).value();
        for (String arg : args) {
            String[] keyValue = arg.split("=", 2);
            switch (keyValue[0]) {
                case "threads" -> threadCounts = Arrays.stream(keyValue[1].split(",")).mapToInt(Integer::parseInt).toArray();
                case "seconds" -> seconds = Double.parseDouble(keyValue[1]);
                case "shapes" -> shapes = keyValue[1].split(",");
                default -> throw new IllegalArgumentException("unknown argument '" + arg
                        + "'; use threads=1,2 seconds=3 shapes=NT:MxNxK,...");
            }
        }
        System.out.println("kernel: " + Gemm.kernelPath());
        // Compile every path before the first row: on a loaded machine one second per shape is not enough for C2.
        for (GemmCase gemmCase : GemmCase.values()) {
            measure(gemmCase + ":300x512x512", 1, 1);
            measure(gemmCase + ":64x100x100", 1, 0.2);
        }
        System.out.println("| shape | threads | Java GFLOP/s | OpenBLAS GFLOP/s | Java/OpenBLAS (median of pairs) | pairs |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (String shape : shapes) {
            for (int threads : threadCounts) {
                System.out.println(measure(shape, threads, seconds));
            }
        }
    }

    private static String measure(String shape, int threads, double seconds) {
        if (shape.startsWith("GNT:")) return measureGrouped(shape, threads, seconds);
        String[] parts = shape.split("[:x]");
        GemmCase gemmCase = GemmCase.valueOf(parts[0]);
        int m = Integer.parseInt(parts[1]), n = Integer.parseInt(parts[2]), k = Integer.parseInt(parts[3]);
        int lda = gemmCase == GemmCase.TN ? m : k;
        int ldb = gemmCase == GemmCase.NT ? k : n;
        SplittableRandom random = new SplittableRandom(42);
        float[] a = randomArray(m * k, random), b = randomArray(k * n, random), c = new float[m * n];
        openblas_nolapack.blas_set_num_threads(threads);
        try (CpuThreadPool pool = CpuThreadPool.create(threads);
             Arena arena = Arena.ofShared();
             FloatPointer aNative = new FloatPointer(a);
             FloatPointer bNative = new FloatPointer(b);
             FloatPointer cNative = new FloatPointer(c)) {
            MemorySegment aSegment = arena.allocateFrom(ValueLayout.JAVA_FLOAT, a);
            MemorySegment bSegment = arena.allocateFrom(ValueLayout.JAVA_FLOAT, b);
            MemorySegment cSegment = arena.allocateFrom(ValueLayout.JAVA_FLOAT, c);
            return pairedRow(shape, threads, seconds, 2.0 * m * n * k,
                    () -> Gemm.run(pool, gemmCase, m, n, k, aSegment, 0, lda, bSegment, 0, ldb, cSegment, 0, n, false),
                    () -> cblas_sgemm(CblasRowMajor, gemmCase == GemmCase.TN ? CblasTrans : CblasNoTrans,
                            gemmCase == GemmCase.NT ? CblasTrans : CblasNoTrans, m, n, k, 1f, aNative, lda,
                            bNative, ldb, 0f, cNative, n));
        }
    }

    /**
     * {@code GNT:GxRxNxK}: the MoE forward over G experts of R rows each, {@link GroupedGemm#nt} against one
     * {@code cblas_sgemm} per expert.
     */
    private static String measureGrouped(String shape, int threads, double seconds) {
        String[] parts = shape.split("[:x]");
        int groups = Integer.parseInt(parts[1]), rows = Integer.parseInt(parts[2]);
        int n = Integer.parseInt(parts[3]), k = Integer.parseInt(parts[4]);
        int[] rows_G = new int[groups];
        Arrays.fill(rows_G, rows);
        SplittableRandom random = new SplittableRandom(42);
        float[] a = randomArray(groups * rows * k, random), w = randomArray(groups * n * k, random);
        float[] c = new float[groups * rows * n];
        openblas_nolapack.blas_set_num_threads(threads);
        try (CpuThreadPool pool = CpuThreadPool.create(threads);
             Arena arena = Arena.ofShared();
             FloatPointer aNative = new FloatPointer(a);
             FloatPointer wNative = new FloatPointer(w);
             FloatPointer cNative = new FloatPointer(c)) {
            MemorySegment aSegment = arena.allocateFrom(ValueLayout.JAVA_FLOAT, a);
            MemorySegment wSegment = arena.allocateFrom(ValueLayout.JAVA_FLOAT, w);
            MemorySegment cSegment = arena.allocateFrom(ValueLayout.JAVA_FLOAT, c);
            FloatPointer[] aOf = new FloatPointer[groups], wOf = new FloatPointer[groups], cOf = new FloatPointer[groups];
            for (int g = 0; g < groups; g++) {
                aOf[g] = new FloatPointer(aNative).position((long) g * rows * k);
                wOf[g] = new FloatPointer(wNative).position((long) g * n * k);
                cOf[g] = new FloatPointer(cNative).position((long) g * rows * n);
            }
            return pairedRow(shape, threads, seconds, 2.0 * groups * rows * n * k,
                    () -> GroupedGemm.nt(pool, rows_G, n, k, aSegment, 0, wSegment, 0, cSegment, 0, false),
                    () -> {
                        for (int g = 0; g < groups; g++) {
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, k, 1f, aOf[g], k, wOf[g], k,
                                    0f, cOf[g], n);
                        }
                    });
        }
    }

    /** Times {@code java} and {@code blas} back to back until {@code seconds} have passed after a second of warm-up. */
    private static String pairedRow(String shape, int threads, double seconds, double flops, Runnable java,
                                    Runnable blas) {
        List<Double> javaRates = new ArrayList<>(), blasRates = new ArrayList<>(), ratios = new ArrayList<>();
        long warmUpEnd = System.nanoTime() + 1_000_000_000L;
        long end = warmUpEnd + (long) (seconds * 1e9);
        while (System.nanoTime() < end || ratios.size() < 3) {
            long t0 = System.nanoTime();
            java.run();
            long t1 = System.nanoTime();
            blas.run();
            long t2 = System.nanoTime();
            if (t0 < warmUpEnd) continue;
            javaRates.add(flops / (t1 - t0));
            blasRates.add(flops / (t2 - t1));
            ratios.add((double) (t2 - t1) / (t1 - t0));
        }
        return String.format("| %s | %d | %.1f | %.1f | %.2f | %d |", shape, threads, median(javaRates),
                median(blasRates), median(ratios), ratios.size());
    }

    private static double median(List<Double> values) {
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static float[] randomArray(int length, SplittableRandom random) {
        float[] values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float) (random.nextDouble() * 2 - 1);
        return values;
    }
}
