package org.sparkmoe.model.backend.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * GEMM without packing, for shapes where packing costs more than it saves: matrix-vector products (M or N is 1)
 * and tiny products. NN and TN run as vectorised row updates C[i,:] += a·B[p,:]; NT as vectorised dot products.
 */
final class SmallGemm {
    private static final VectorSpecies<Float> S = CpuVectors.FLOATS;
    private static final int L = CpuVectors.LANES;

    private SmallGemm() {}

    /** C_MN (+)= op(A) · op(B) on the calling thread; shapes are already validated. */
    static void multiply(GemmCase gemmCase, int m, int n, int k, float[] a, int aOff, int lda, float[] b,
                         int bOff, int ldb, float[] c, int cOff, int ldc, boolean accumulate) {
        if (gemmCase == GemmCase.NT) {
            for (int i = 0; i < m; i++) {
                int aRow = aOff + i * lda;
                int cRow = cOff + i * ldc;
                for (int j = 0; j < n; j++) {
                    float sum = dot(k, a, aRow, b, bOff + j * ldb);
                    c[cRow + j] = accumulate ? c[cRow + j] + sum : sum;
                }
            }
            return;
        }
        if (!accumulate) {
            for (int i = 0; i < m; i++) Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
        }
        boolean aTransposed = gemmCase.aTransposed();
        for (int i = 0; i < m; i++) {
            int cRow = cOff + i * ldc;
            for (int p = 0; p < k; p++) {
                float aip = aTransposed ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                axpy(n, aip, b, bOff + p * ldb, c, cRow);
            }
        }
    }

    static float dot(int k, float[] x, int xIdx, float[] y, int yIdx) {
        FloatVector sum = FloatVector.zero(S);
        int p = 0;
        for (int bound = S.loopBound(k); p < bound; p += L) {
            sum = FloatVector.fromArray(S, x, xIdx + p).fma(FloatVector.fromArray(S, y, yIdx + p), sum);
        }
        // Fixed lane order: reduceLanes(ADD) may reorder differently in interpreted and compiled code, which
        // would make training depend on JIT timing (the engine promises bit-identical runs per seed).
        float result = 0f;
        for (int lane = 0; lane < L; lane++) result += sum.lane(lane);
        for (; p < k; p++) result += x[xIdx + p] * y[yIdx + p];
        return result;
    }

    /** y[0:n] += alpha · x[0:n]. */
    static void axpy(int n, float alpha, float[] x, int xIdx, float[] y, int yIdx) {
        FloatVector alphaV = FloatVector.broadcast(S, alpha);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            alphaV.fma(FloatVector.fromArray(S, x, xIdx + j), FloatVector.fromArray(S, y, yIdx + j))
                    .intoArray(y, yIdx + j);
        }
        for (; j < n; j++) y[yIdx + j] += alpha * x[xIdx + j];
    }
}
