package org.sparkmoe.model.backend.cpu;

import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.MR;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.NR;

import java.lang.foreign.MemorySegment;

/**
 * The cache-blocked GEMM of GotoBLAS/BLIS on one thread: B is packed KC×NC at a time (a block that stays in L3),
 * A is packed MC×KC at a time (stays in L2), and the micro-kernel walks MR×NR tiles of C, reusing one KC-deep B
 * micro-panel across the MC/MR micro-panels of A. Operands are fp32 segments; the packing buffers are heap arrays
 * per thread, reused, so a call allocates nothing and the micro-kernel's inner loop reads arrays only.
 */
final class PackedGemm {
    /**
     * Depth of a packed block. Deep blocks matter most: C is read and written once per KC of depth, and on Zen 4
     * (shared 2-core VM) KC=384 ran 1.5-2x faster than 128 and no worse than 512-768 (docs/cpu-kernels.md).
     * A B micro-panel is then KC·NR floats (48 KiB at 512 bits) and is reused from L2.
     */
    static final int KC = 384;
    /** Rows of a packed A block (MC·KC floats = 288 KiB, in L2). A multiple of MR. */
    static final int MC = 32 * MR;
    /** Columns of a packed B block (KC·NC floats = 3 MiB, in L3). A multiple of NR. */
    static final int NC = 2048 / NR * NR;

    /** Bytes of one thread's packing buffers (heap, per thread, kept for the thread's life). */
    static final long BUFFER_BYTES = 4L * (MC * KC + KC * NC + GemmMicroKernel.TILE + NR * KC);

    /** One thread's packed A block, packed B block, micro-kernel scratch tile and B-transpose staging panel. */
    private record Buffers(float[] aPacked, float[] bPacked, float[] tile, float[] staging) {}

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(
            () -> new Buffers(new float[MC * KC], new float[KC * NC], new float[GemmMicroKernel.TILE],
                    new float[NR * KC]));

    private PackedGemm() {}

    /** C_MN (+)= op(A) · op(B) on the calling thread; shapes are already validated and k > 0. */
    static void multiply(GemmCase gemmCase, int m, int n, int k, MemorySegment a, long aOff, int lda,
                         MemorySegment b, long bOff, int ldb, MemorySegment c, long cOff, int ldc,
                         boolean accumulate) {
        Buffers buffers = BUFFERS.get();
        float[] aPacked = buffers.aPacked();
        float[] bPacked = buffers.bPacked();
        float[] tile = buffers.tile();
        // Equal depth blocks (k=1280: 4×320, not 3×384 + 128): a thin last block would pay a full pass over C
        // for little work.
        int kBlock = ceilDiv(k, ceilDiv(k, KC));
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            for (int pc = 0; pc < k; pc += kBlock) {
                int kc = Math.min(kBlock, k - pc);
                boolean add = accumulate || pc > 0;
                GemmPacking.packB(gemmCase, b, bOff, ldb, jc, nc, pc, kc, bPacked, buffers.staging());
                for (int ic = 0; ic < m; ic += MC) {
                    int mc = Math.min(MC, m - ic);
                    GemmPacking.packA(gemmCase, a, aOff, lda, ic, mc, pc, kc, aPacked);
                    for (int jr = 0; jr < nc; jr += NR) {
                        int nr = Math.min(NR, nc - jr);
                        int bIdx = jr * kc;
                        long cCol = cOff + jc + jr;
                        for (int ir = 0; ir < mc; ir += MR) {
                            GemmMicroKernel.multiply(kc, aPacked, ir * kc, bPacked, bIdx,
                                    c, cCol + (long) (ic + ir) * ldc, ldc, Math.min(MR, mc - ir), nr, add, tile);
                        }
                    }
                }
            }
        }
    }

    private static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }
}
