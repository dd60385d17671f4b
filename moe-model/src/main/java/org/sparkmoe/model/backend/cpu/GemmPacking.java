package org.sparkmoe.model.backend.cpu;

import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.L;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.MR;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.NR;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.S;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Copies a cache block of A or B into the contiguous micro-panels the micro-kernel streams through. Packing is
 * where the three GEMM cases differ; after it, NN, NT and TN share one micro-kernel.
 *
 * <p>Packed A: micro-panels of {@link GemmMicroKernel#MR} rows; inside one, element (p, r) sits at
 * {@code p·MR + r}. Packed B: micro-panels of {@link GemmMicroKernel#NR} columns, element (p, j) at
 * {@code p·NR + j}. Rows/columns past the edge of the matrix are zero, so edge tiles need no special kernel.
 */
final class GemmPacking {
    private GemmPacking() {}

    /** Packs A[i0:i0+mc, p0:p0+kc] (logical M×K) into {@code dst}. */
    static void packA(GemmCase gemmCase, float[] a, int aOff, int lda, int i0, int mc, int p0, int kc,
                      float[] dst) {
        int d = 0;
        for (int ir = 0; ir < mc; ir += MR, d += kc * MR) {
            int mr = Math.min(MR, mc - ir);
            if (gemmCase.aTransposed()) {
                packPanelFromKM(a, aOff + p0 * lda + i0 + ir, lda, mr, kc, dst, d);
            } else {
                packPanelFromMK(a, aOff + (i0 + ir) * lda + p0, lda, mr, kc, dst, d);
            }
        }
    }

    /** Packs B[p0:p0+kc, j0:j0+nc] (logical K×N) into {@code dst}. */
    static void packB(GemmCase gemmCase, float[] b, int bOff, int ldb, int j0, int nc, int p0, int kc,
                      float[] dst) {
        int d = 0;
        for (int jr = 0; jr < nc; jr += NR, d += kc * NR) {
            int nr = Math.min(NR, nc - jr);
            if (gemmCase.bTransposed()) {
                packPanelFromNK(b, bOff + (j0 + jr) * ldb + p0, ldb, nr, kc, dst, d);
            } else {
                packPanelFromKN(b, bOff + p0 * ldb + j0 + jr, ldb, nr, kc, dst, d);
            }
        }
    }

    /** A stored M×K: each of the mr rows is contiguous in k, so this transposes MR rows into k-major order. */
    private static void packPanelFromMK(float[] a, int src, int lda, int mr, int kc, float[] dst, int d) {
        if (mr == MR) {
            int s0 = src, s1 = src + lda, s2 = src + 2 * lda, s3 = src + 3 * lda, s4 = src + 4 * lda,
                    s5 = src + 5 * lda;
            for (int p = 0; p < kc; p++, d += MR) {
                dst[d] = a[s0 + p];
                dst[d + 1] = a[s1 + p];
                dst[d + 2] = a[s2 + p];
                dst[d + 3] = a[s3 + p];
                dst[d + 4] = a[s4 + p];
                dst[d + 5] = a[s5 + p];
            }
            return;
        }
        Arrays.fill(dst, d, d + kc * MR, 0f);
        for (int r = 0; r < mr; r++) {
            int s = src + r * lda;
            for (int p = 0; p < kc; p++) dst[d + p * MR + r] = a[s + p];
        }
    }

    /** A stored K×M: MR consecutive values of one row of storage per k. */
    private static void packPanelFromKM(float[] a, int src, int lda, int mr, int kc, float[] dst, int d) {
        for (int p = 0; p < kc; p++, src += lda, d += MR) {
            int r = 0;
            for (; r < mr; r++) dst[d + r] = a[src + r];
            for (; r < MR; r++) dst[d + r] = 0f;
        }
    }

    /** B stored K×N: NR consecutive values per k, copied as two vectors. */
    private static void packPanelFromKN(float[] b, int src, int ldb, int nr, int kc, float[] dst, int d) {
        if (nr == NR) {
            for (int p = 0; p < kc; p++, src += ldb, d += NR) {
                FloatVector.fromArray(S, b, src).intoArray(dst, d);
                FloatVector.fromArray(S, b, src + L).intoArray(dst, d + L);
            }
            return;
        }
        VectorMask<Float> mask0 = S.indexInRange(0, nr);
        VectorMask<Float> mask1 = S.indexInRange(L, nr);
        for (int p = 0; p < kc; p++, src += ldb, d += NR) {
            FloatVector.fromArray(S, b, src, mask0).intoArray(dst, d);
            FloatVector.fromArray(S, b, src + L, mask1).intoArray(dst, d + L);
        }
    }

    /** B stored N×K: each of the nr rows is contiguous in k, so this transposes NR rows into k-major order. */
    private static void packPanelFromNK(float[] b, int src, int ldb, int nr, int kc, float[] dst, int d) {
        if (nr < NR) Arrays.fill(dst, d, d + kc * NR, 0f);
        for (int j = 0; j < nr; j++) {
            int s = src + j * ldb;
            for (int p = 0; p < kc; p++) dst[d + p * NR + j] = b[s + p];
        }
    }
}
