package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.L;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.MR;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.NR;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.S;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Copies a cache block of A or B (fp32 segments, offsets in floats) into the contiguous heap micro-panels the
 * micro-kernel streams through. Packing is where the three GEMM cases differ; after it, NN, NT and TN share one
 * micro-kernel.
 *
 * <p>Packed A: micro-panels of {@link GemmMicroKernel#MR} rows; inside one, element (p, r) sits at
 * {@code p·MR + r}. Packed B: micro-panels of {@link GemmMicroKernel#NR} columns, element (p, j) at
 * {@code p·NR + j}. Rows/columns past the edge of the matrix are zero, so edge tiles need no special kernel.
 */
final class GemmPacking {
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Scatter offsets of L consecutive k of one row into a packed A micro-panel. */
    private static final int[] SCATTER_MR = new int[L];

    static {
        for (int q = 0; q < L; q++) SCATTER_MR[q] = q * MR;
    }

    private GemmPacking() {}

    /** Packs A[i0:i0+mc, p0:p0+kc] (logical M×K) into {@code dst}. */
    static void packA(GemmCase gemmCase, MemorySegment a, long aOff, int lda, int i0, int mc, int p0, int kc,
                      float[] dst) {
        int d = 0;
        for (int ir = 0; ir < mc; ir += MR, d += kc * MR) {
            int mr = Math.min(MR, mc - ir);
            if (gemmCase.aTransposed()) {
                packPanelFromKM(a, aOff + (long) p0 * lda + i0 + ir, lda, mr, kc, dst, d);
            } else {
                packPanelFromMK(a, aOff + (long) (i0 + ir) * lda + p0, lda, mr, kc, dst, d);
            }
        }
    }

    /**
     * Packs B[p0:p0+kc, j0:j0+nc] (logical K×N) into {@code dst}; {@code staging} (NR·KC floats) holds one panel
     * of B stored N×K on its way to the transpose.
     */
    static void packB(GemmCase gemmCase, MemorySegment b, long bOff, int ldb, int j0, int nc, int p0, int kc,
                      float[] dst, float[] staging) {
        int d = 0;
        int[] rowStarts = gemmCase.bTransposed() ? rowStarts(kc) : null;
        for (int jr = 0; jr < nc; jr += NR, d += kc * NR) {
            int nr = Math.min(NR, nc - jr);
            if (gemmCase.bTransposed()) {
                packPanelFromNK(b, bOff + (long) (j0 + jr) * ldb + p0, ldb, nr, kc, dst, d, staging, rowStarts);
            } else {
                packPanelFromKN(b, bOff + (long) p0 * ldb + j0 + jr, ldb, nr, kc, dst, d);
            }
        }
    }

    /**
     * A stored M×K: each of the mr rows is contiguous in k, so this transposes MR rows into k-major order: a full
     * panel loads L k of one row and scatters them MR apart (when N is small, packing A is a large share of the work).
     */
    private static void packPanelFromMK(MemorySegment a, long src, int lda, int mr, int kc, float[] dst, int d) {
        if (mr == MR) {
            long row = 4L * lda;
            long s0 = 4 * src, s1 = s0 + row, s2 = s1 + row, s3 = s2 + row, s4 = s3 + row, s5 = s4 + row;
            int p = 0;
            for (int bound = S.loopBound(kc); p < bound; p += L, d += L * MR) {
                long at = 4L * p;
                FloatVector.fromMemorySegment(S, a, s0 + at, ORDER).intoArray(dst, d, SCATTER_MR, 0);
                FloatVector.fromMemorySegment(S, a, s1 + at, ORDER).intoArray(dst, d + 1, SCATTER_MR, 0);
                FloatVector.fromMemorySegment(S, a, s2 + at, ORDER).intoArray(dst, d + 2, SCATTER_MR, 0);
                FloatVector.fromMemorySegment(S, a, s3 + at, ORDER).intoArray(dst, d + 3, SCATTER_MR, 0);
                FloatVector.fromMemorySegment(S, a, s4 + at, ORDER).intoArray(dst, d + 4, SCATTER_MR, 0);
                FloatVector.fromMemorySegment(S, a, s5 + at, ORDER).intoArray(dst, d + 5, SCATTER_MR, 0);
            }
            for (; p < kc; p++, d += MR) {
                long at = 4L * p;
                dst[d] = a.get(JAVA_FLOAT, s0 + at);
                dst[d + 1] = a.get(JAVA_FLOAT, s1 + at);
                dst[d + 2] = a.get(JAVA_FLOAT, s2 + at);
                dst[d + 3] = a.get(JAVA_FLOAT, s3 + at);
                dst[d + 4] = a.get(JAVA_FLOAT, s4 + at);
                dst[d + 5] = a.get(JAVA_FLOAT, s5 + at);
            }
            return;
        }
        Arrays.fill(dst, d, d + kc * MR, 0f);
        for (int r = 0; r < mr; r++) {
            long s = src + (long) r * lda;
            for (int p = 0; p < kc; p++) dst[d + p * MR + r] = a.getAtIndex(JAVA_FLOAT, s + p);
        }
    }

    /**
     * A stored K×M: MR consecutive values of one row of storage per k, moved as one masked vector (the lanes past mr
     * load as zero and are stored as the panel's padding) when a vector holds MR floats.
     */
    private static void packPanelFromKM(MemorySegment a, long src, int lda, int mr, int kc, float[] dst, int d) {
        if (L >= MR) {
            VectorMask<Float> load = S.indexInRange(0, mr);
            VectorMask<Float> store = S.indexInRange(0, MR);
            long at = 4 * src;
            long row = 4L * lda;
            for (int p = 0; p < kc; p++, at += row, d += MR) {
                FloatVector.fromMemorySegment(S, a, at, ORDER, load).intoArray(dst, d, store);
            }
            return;
        }
        for (int p = 0; p < kc; p++, src += lda, d += MR) {
            int r = 0;
            for (; r < mr; r++) dst[d + r] = a.getAtIndex(JAVA_FLOAT, src + r);
            for (; r < MR; r++) dst[d + r] = 0f;
        }
    }

    /** B stored K×N: NR consecutive values per k, copied as two vectors. */
    private static void packPanelFromKN(MemorySegment b, long src, int ldb, int nr, int kc, float[] dst, int d) {
        long at = 4 * src;
        long row = 4L * ldb;
        if (nr == NR) {
            for (int p = 0; p < kc; p++, at += row, d += NR) {
                FloatVector.fromMemorySegment(S, b, at, ORDER).intoArray(dst, d);
                FloatVector.fromMemorySegment(S, b, at + 4L * L, ORDER).intoArray(dst, d + L);
            }
            return;
        }
        VectorMask<Float> mask0 = S.indexInRange(0, nr);
        VectorMask<Float> mask1 = S.indexInRange(L, nr);
        for (int p = 0; p < kc; p++, at += row, d += NR) {
            FloatVector.fromMemorySegment(S, b, at, ORDER, mask0).intoArray(dst, d);
            FloatVector.fromMemorySegment(S, b, at + 4L * L, ORDER, mask1).intoArray(dst, d + L);
        }
    }

    /** Offsets of NR consecutive rows of a staged panel of row length {@code kc}: the index map of a gather. */
    private static int[] rowStarts(int kc) {
        int[] starts = new int[NR];
        for (int j = 0; j < NR; j++) starts[j] = j * kc;
        return starts;
    }

    /**
     * B stored N×K: each of the nr rows is contiguous in k, so this transposes NR rows into k-major order. A full
     * panel is first copied row by row into the heap staging panel (bulk copies; the Vector API gathers from arrays
     * only), then one k of L rows is gathered per vector (the scalar transpose cost the NT case ~25% of its time).
     */
    private static void packPanelFromNK(MemorySegment b, long src, int ldb, int nr, int kc, float[] dst, int d,
                                        float[] staging, int[] rowStarts) {
        if (nr == NR) {
            for (int j = 0; j < NR; j++) {
                MemorySegment.copy(b, JAVA_FLOAT, 4 * (src + (long) j * ldb), staging, j * kc, kc);
            }
            for (int p = 0; p < kc; p++, d += NR) {
                FloatVector.fromArray(S, staging, p, rowStarts, 0).intoArray(dst, d);
                FloatVector.fromArray(S, staging, p, rowStarts, L).intoArray(dst, d + L);
            }
            return;
        }
        Arrays.fill(dst, d, d + kc * NR, 0f);
        for (int j = 0; j < nr; j++) {
            long s = src + (long) j * ldb;
            for (int p = 0; p < kc; p++) dst[d + p * NR + j] = b.getAtIndex(JAVA_FLOAT, s + p);
        }
    }
}
