package org.sparkmoe.model.backend.cpu;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Each GEMM case against a naive float64 reference on random shapes: odd sizes, vectors (1×N, M×1), non-zero
 * offsets, padded leading dimensions, and accumulate on and off. Elements of C outside the M×N window must stay
 * untouched.
 */
class GemmTest {
    private enum Case { NN, NT, TN }

    /** Shapes chosen to hit every edge: below, at and above vector widths, micro-tile and cache-block sizes. */
    private static final int[][] SHAPES_MNK = {
        {1, 1, 1}, {1, 17, 5}, {13, 1, 7}, {1, 1, 300}, {7, 9, 3}, {16, 16, 16}, {31, 33, 35},
        {6, 48, 64}, {65, 127, 129}, {100, 200, 50}, {3, 513, 257}, {257, 3, 511}, {130, 250, 600},
    };

    @Test
    void nnMatchesFloat64Reference() { checkAll(Case.NN); }

    @Test
    void ntMatchesFloat64Reference() { checkAll(Case.NT); }

    @Test
    void tnMatchesFloat64Reference() { checkAll(Case.TN); }

    @Test
    void largeShapesCrossEveryCacheBlock() {
        SplittableRandom random = new SplittableRandom(7);
        for (Case gemmCase : Case.values()) {
            check(gemmCase, 301, 1100, 700, 3, 5, 2, true, random);
        }
    }

    private static void checkAll(Case gemmCase) {
        SplittableRandom random = new SplittableRandom(gemmCase.ordinal() + 1);
        for (int[] shape : SHAPES_MNK) {
            for (boolean accumulate : new boolean[] {false, true}) {
                check(gemmCase, shape[0], shape[1], shape[2], 0, 0, 0, accumulate, random);
                check(gemmCase, shape[0], shape[1], shape[2], 3, 5, 11, accumulate, random);
            }
        }
    }

    /** Runs one case with leading dimensions padded by {@code pad} and checks C against a float64 product. */
    private static void check(Case gemmCase, int m, int n, int k, int pad, int off, int padC, boolean accumulate,
                              SplittableRandom random) {
        int aRows = gemmCase == Case.TN ? k : m;
        int aCols = gemmCase == Case.TN ? m : k;
        int bRows = gemmCase == Case.NT ? n : k;
        int bCols = gemmCase == Case.NT ? k : n;
        int lda = aCols + pad;
        int ldb = bCols + pad + 1;
        int ldc = n + padC;
        int aOff = off, bOff = off + 2, cOff = off + 1;
        float[] a = randomArray(aOff + aRows * lda, random);
        float[] b = randomArray(bOff + bRows * ldb, random);
        float[] c = randomArray(cOff + m * ldc + 4, random);
        float[] cBefore = c.clone();

        switch (gemmCase) {
            case NN -> Gemm.nn(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            case NT -> Gemm.nt(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            case TN -> Gemm.tn(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
        }

        String what = gemmCase + " m=" + m + " n=" + n + " k=" + k + " pad=" + pad + " accumulate=" + accumulate;
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
                double av = gemmCase == Case.TN ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                double bv = gemmCase == Case.NT ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
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

    private static float[] randomArray(int length, SplittableRandom random) {
        float[] values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float) (random.nextDouble() * 2 - 1);
        return values;
    }
}
