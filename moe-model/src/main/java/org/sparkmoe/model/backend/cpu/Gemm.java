package org.sparkmoe.model.backend.cpu;

/**
 * fp32 GEMM on row-major {@code float[]} with offsets and leading dimensions: the three cases that a
 * linear layer's forward and backward need.
 *
 * <p>Legend: {@code M, N, K} are the GEMM dimensions; a suffix such as {@code _MK} names the logical shape
 * of a row-major operand (rows first). A leading dimension is the distance in floats between two rows.
 * {@code accumulate=false} overwrites C, {@code true} adds to it (gradient accumulation).
 */
public final class Gemm {
    private Gemm() {}

    /** C_MN (+)= A_MK · B_KN. */
    public static void nn(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                          float[] c, int cOff, int ldc, boolean accumulate) {
        for (int i = 0; i < m; i++) {
            int cRow = cOff + i * ldc;
            if (!accumulate) java.util.Arrays.fill(c, cRow, cRow + n, 0f);
            for (int p = 0; p < k; p++) {
                float aip = a[aOff + i * lda + p];
                int bRow = bOff + p * ldb;
                for (int j = 0; j < n; j++) c[cRow + j] += aip * b[bRow + j];
            }
        }
    }

    /** C_MN (+)= A_MK · B_NK^T (x · Wᵀ with W stored [out, in] as nn.Linear). */
    public static void nt(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                          float[] c, int cOff, int ldc, boolean accumulate) {
        for (int i = 0; i < m; i++) {
            int aRow = aOff + i * lda;
            for (int j = 0; j < n; j++) {
                int bRow = bOff + j * ldb;
                float sum = 0f;
                for (int p = 0; p < k; p++) sum += a[aRow + p] * b[bRow + p];
                int ci = cOff + i * ldc + j;
                c[ci] = accumulate ? c[ci] + sum : sum;
            }
        }
    }

    /** C_MN (+)= A_KM^T · B_KN (weight gradients: dW = dYᵀ · X). */
    public static void tn(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                          float[] c, int cOff, int ldc, boolean accumulate) {
        if (!accumulate) {
            for (int i = 0; i < m; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
        }
        for (int p = 0; p < k; p++) {
            int aRow = aOff + p * lda;
            int bRow = bOff + p * ldb;
            for (int i = 0; i < m; i++) {
                float api = a[aRow + i];
                int cRow = cOff + i * ldc;
                for (int j = 0; j < n; j++) c[cRow + j] += api * b[bRow + j];
            }
        }
    }
}
