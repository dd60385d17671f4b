package org.sparkmoe.model.backend.cpu;

import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.MR;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.NR;

/**
 * The cache-blocked GEMM of GotoBLAS/BLIS on one thread: B is packed KC×NC at a time (a block that stays in L2/L3),
 * A is packed MC×KC at a time (stays in L2), and the micro-kernel walks MR×NR tiles of C with one KC-deep B
 * micro-panel hot in L1. Packing buffers are per thread and reused, so a call allocates nothing.
 */
final class PackedGemm {
    /** Depth of a packed block: a B micro-panel is KC·NR floats (16 KiB with 512-bit vectors), half of L1d. */
    static final int KC = 128;
    /** Rows of a packed A block (MC·KC floats = 96 KiB, in L2). A multiple of MR. */
    static final int MC = 32 * MR;
    /** Columns of a packed B block (KC·NC floats = 1 MiB, in L2/L3). A multiple of NR. */
    static final int NC = 2048 / NR * NR;

    private static final ThreadLocal<float[][]> BUFFERS =
            ThreadLocal.withInitial(() -> new float[][] {new float[MC * KC], new float[KC * NC]});

    private PackedGemm() {}

    /** C_MN (+)= op(A) · op(B) on the calling thread; shapes are already validated and k > 0. */
    static void multiply(GemmCase gemmCase, int m, int n, int k, float[] a, int aOff, int lda, float[] b,
                         int bOff, int ldb, float[] c, int cOff, int ldc, boolean accumulate) {
        float[][] buffers = BUFFERS.get();
        float[] aPacked = buffers[0];
        float[] bPacked = buffers[1];
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                boolean add = accumulate || pc > 0;
                GemmPacking.packB(gemmCase, b, bOff, ldb, jc, nc, pc, kc, bPacked);
                for (int ic = 0; ic < m; ic += MC) {
                    int mc = Math.min(MC, m - ic);
                    GemmPacking.packA(gemmCase, a, aOff, lda, ic, mc, pc, kc, aPacked);
                    for (int jr = 0; jr < nc; jr += NR) {
                        int nr = Math.min(NR, nc - jr);
                        int bIdx = jr * kc;
                        int cCol = cOff + jc + jr;
                        for (int ir = 0; ir < mc; ir += MR) {
                            GemmMicroKernel.multiply(kc, aPacked, ir * kc, bPacked, bIdx,
                                    c, cCol + (ic + ir) * ldc, ldc, Math.min(MR, mc - ir), nr, add);
                        }
                    }
                }
            }
        }
    }
}
