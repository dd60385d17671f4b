package org.sparkmoe.model.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Each GEMM case against a naive float64 reference on random shapes: odd sizes, vectors (1×N, M×1), non-zero
 * offsets, padded leading dimensions, and accumulate on and off, through every path (the public dispatch, the
 * packed and the unpacked kernels forced, and a split over three threads). Elements of C outside the M×N window
 * must stay untouched.
 */
class GemmTest {
    /** How a product is computed: the public entry point, or one internal path forced for every shape. */
    private enum Path { PUBLIC, PACKED, SMALL, THREE_THREADS }

    private static final CpuThreadPool THREE = CpuThreadPool.create(3);

    /** Shapes chosen to hit every edge: below, at and above vector widths, micro-tile and cache-block sizes. */
    private static final int[][] SHAPES_MNK = {
        {1, 1, 1}, {1, 17, 5}, {13, 1, 7}, {1, 1, 300}, {7, 9, 3}, {16, 16, 16}, {31, 33, 35},
        {6, 48, 64}, {65, 127, 129}, {100, 200, 50}, {3, 513, 257}, {257, 3, 511}, {130, 250, 600},
    };

    @ParameterizedTest
    @EnumSource(Path.class)
    void nnMatchesFloat64Reference(Path path) { checkAll(GemmCase.NN, path); }

    @ParameterizedTest
    @EnumSource(Path.class)
    void ntMatchesFloat64Reference(Path path) { checkAll(GemmCase.NT, path); }

    @ParameterizedTest
    @EnumSource(Path.class)
    void tnMatchesFloat64Reference(Path path) { checkAll(GemmCase.TN, path); }

    @Test
    void largeShapesCrossEveryCacheBlock() {
        SplittableRandom random = new SplittableRandom(7);
        for (GemmCase gemmCase : GemmCase.values()) {
            check(gemmCase, Path.PUBLIC, 301, 2100, 40, 3, 5, 2, true, random);
            check(gemmCase, Path.PUBLIC, 430, 70, 270, 0, 1, 0, false, random);
            check(gemmCase, Path.THREE_THREADS, 700, 20, 700, 1, 0, 3, false, random);   // split along M
            check(gemmCase, Path.THREE_THREADS, 20, 900, 700, 1, 0, 3, true, random);    // split along N
        }
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() {
        SplittableRandom random = new SplittableRandom(5);
        int m = 200, n = 300, k = 450;
        float[] a = randomArray(m * k, random), b = randomArray(k * n, random);
        for (GemmCase gemmCase : GemmCase.values()) {
            int lda = gemmCase == GemmCase.TN ? m : k, ldb = gemmCase == GemmCase.NT ? k : n;
            float[] serial = new float[m * n], split = new float[m * n];
            Gemm.run(CpuThreadPool.serial(), gemmCase, m, n, k, seg(a), 0, lda, seg(b), 0, ldb, seg(serial), 0, n, false);
            Gemm.run(THREE, gemmCase, m, n, k, seg(a), 0, lda, seg(b), 0, ldb, seg(split), 0, n, false);
            assertArrayEquals(serial, split, gemmCase + ": one thread and three threads differ");
        }
    }

    @Test
    void zeroDepthClearsOrKeepsC() {
        float[] c = {1f, 2f, 3f, 4f};
        Gemm.nn(2, 2, 0, seg(new float[0]), 0, 1, seg(new float[2]), 0, 2, seg(c), 0, 2, true);
        assertArrayEquals(new float[] {1f, 2f, 3f, 4f}, c);
        Gemm.nn(2, 2, 0, seg(new float[0]), 0, 1, seg(new float[2]), 0, 2, seg(c), 0, 2, false);
        assertArrayEquals(new float[4], c);
    }

    @Test
    void badArgumentsAreRefusedWithTheirName() {
        float[] a = new float[6], b = new float[6], c = new float[4];
        assertMessage("lda=2 is smaller than the row length 3 of A",
                () -> Gemm.nn(2, 2, 3, seg(a), 0, 2, seg(b), 0, 2, seg(c), 0, 2, false));
        assertMessage("B (stored 3x2 at offset 1, ldb=2) needs 7 floats but its segment holds 6",
                () -> Gemm.nn(2, 2, 3, seg(a), 0, 3, seg(b), 1, 2, seg(c), 0, 2, false));
        assertMessage("dimensions must not be negative",
                () -> Gemm.tn(-1, 2, 3, seg(a), 0, 3, seg(b), 0, 2, seg(c), 0, 2, false));
        assertMessage("offset of C is negative",
                () -> Gemm.nt(2, 2, 3, seg(a), 0, 3, seg(b), 0, 3, seg(c), -1, 2, false));
        float[] shared = new float[16];
        assertMessage("C overlaps A", () -> Gemm.nn(2, 2, 2, seg(shared), 0, 2, seg(b), 0, 2, seg(shared), 2, 2, false));
    }

    private static void assertMessage(String expected, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(expected), () -> "message '" + e.getMessage() + "' lacks '" + expected + "'");
    }

    private static void checkAll(GemmCase gemmCase, Path path) {
        SplittableRandom random = new SplittableRandom(gemmCase.ordinal() * 10 + path.ordinal());
        for (int[] shape : SHAPES_MNK) {
            for (boolean accumulate : new boolean[] {false, true}) {
                check(gemmCase, path, shape[0], shape[1], shape[2], 0, 0, 0, accumulate, random);
                check(gemmCase, path, shape[0], shape[1], shape[2], 3, 5, 11, accumulate, random);
            }
        }
    }

    /** Runs one case with leading dimensions padded by {@code pad} and checks C against a float64 product. */
    private static void check(GemmCase gemmCase, Path path, int m, int n, int k, int pad, int off, int padC, boolean accumulate,
                              SplittableRandom random) {
        int aRows = gemmCase == GemmCase.TN ? k : m;
        int aCols = gemmCase == GemmCase.TN ? m : k;
        int bRows = gemmCase == GemmCase.NT ? n : k;
        int bCols = gemmCase == GemmCase.NT ? k : n;
        int lda = aCols + pad;
        int ldb = bCols + pad + 1;
        int ldc = n + padC;
        int aOff = off, bOff = off + 2, cOff = off + 1;
        float[] a = randomArray(aOff + aRows * lda, random);
        float[] b = randomArray(bOff + bRows * ldb, random);
        float[] c = randomArray(cOff + m * ldc + 4, random);
        float[] cBefore = c.clone();

        switch (path) {
            case PUBLIC -> {
                switch (gemmCase) {
                    case NN -> Gemm.nn(m, n, k, seg(a), aOff, lda, seg(b), bOff, ldb, seg(c), cOff, ldc, accumulate);
                    case NT -> Gemm.nt(m, n, k, seg(a), aOff, lda, seg(b), bOff, ldb, seg(c), cOff, ldc, accumulate);
                    case TN -> Gemm.tn(m, n, k, seg(a), aOff, lda, seg(b), bOff, ldb, seg(c), cOff, ldc, accumulate);
                }
            }
            case PACKED -> PackedGemm.multiply(gemmCase, m, n, k, seg(a), aOff, lda, seg(b), bOff, ldb, seg(c), cOff, ldc, accumulate);
            case SMALL -> SmallGemm.multiply(gemmCase, m, n, k, seg(a), aOff, lda, seg(b), bOff, ldb, seg(c), cOff, ldc, accumulate);
            case THREE_THREADS -> Gemm.run(THREE, gemmCase, m, n, k, seg(a), aOff, lda, seg(b), bOff, ldb, seg(c), cOff, ldc, accumulate);
        }

        String what = gemmCase + " via " + path + " m=" + m + " n=" + n + " k=" + k + " pad=" + pad + " accumulate=" + accumulate;
        for (int idx = 0; idx < c.length; idx++) {
            int rel = idx - cOff;
            int i = Math.floorDiv(rel, ldc), j = Math.floorMod(rel, ldc);
            boolean inside = rel >= 0 && i < m && j < n;
            if (!inside) {
                if (Float.floatToRawIntBits(c[idx]) != Float.floatToRawIntBits(cBefore[idx])) {
                    fail(what + ": wrote outside C at index " + idx);
                }
                continue;
            }
            double sum = accumulate ? cBefore[idx] : 0.0;
            double absSum = accumulate ? Math.abs(cBefore[idx]) : 0.0;
            for (int p = 0; p < k; p++) {
                double av = gemmCase == GemmCase.TN ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                double bv = gemmCase == GemmCase.NT ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                sum += av * bv;
                absSum += Math.abs(av * bv);
            }
            // fp32 summation error grows at worst like k·eps·Σ|a·b|; blocked/FMA orders stay far inside that.
            double bound = (k + 2) * 0x1p-23 * absSum + 1e-30;
            double err = Math.abs(c[idx] - sum);
            if (!(err <= bound)) {
                fail(what + ": C[" + i + "," + j + "]=" + c[idx] + " expected " + sum + " (error " + err
                        + " > bound " + bound + ")");
            }
        }
    }

    private static MemorySegment seg(float[] values) {
        return MemorySegment.ofArray(values);
    }

    private static float[] randomArray(int length, SplittableRandom random) {
        float[] values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float) (random.nextDouble() * 2 - 1);
        return values;
    }
}
