package org.sparkmoe.model.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked outer-product micro-kernel: an {@link #MR}×{@link #NR} tile of C lives in 12 vector
 * registers while the kernel walks K, loading two vectors of packed B and broadcasting {@link #MR} scalars of
 * packed A per step (12 FMAs per 2 loads + 6 broadcasts, no horizontal reductions).
 *
 * <p>Legend: {@code kc} = depth of the packed panels, {@code mr ≤ MR}, {@code nr ≤ NR} = the part of the tile that
 * lies inside C (edge tiles are computed in full on zero-padded panels and written back under a mask).
 * The accumulators are 12 named locals, never an array: an array of vectors is boxed and runs ~20x slower.
 */
final class GemmMicroKernel {
    static final VectorSpecies<Float> S = CpuVectors.FLOATS;
    static final int L = CpuVectors.LANES;
    /** Rows of the register tile: 6 rows × 2 vectors = 12 accumulators, leaving registers for B and A. */
    static final int MR = 6;
    /** Columns of the register tile: two vectors. */
    static final int NR = 2 * L;

    private GemmMicroKernel() {}

    /**
     * C[0:mr, 0:nr] at {@code c[cIdx]} (row stride {@code ldc}) (+)= Ap_(kc×MR) · Bp_(kc×NR), where the packed
     * panels start at {@code aIdx} and {@code bIdx}. {@code add=false} overwrites the tile.
     */
    static void multiply(int kc, float[] aPacked, int aIdx, float[] bPacked, int bIdx,
                         float[] c, int cIdx, int ldc, int mr, int nr, boolean add) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++, aIdx += MR, bIdx += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bPacked, bIdx);
            FloatVector b1 = FloatVector.fromArray(S, bPacked, bIdx + L);
            FloatVector a = FloatVector.broadcast(S, aPacked[aIdx]);
            c00 = a.fma(b0, c00);
            c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(S, aPacked[aIdx + 1]);
            c10 = a.fma(b0, c10);
            c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(S, aPacked[aIdx + 2]);
            c20 = a.fma(b0, c20);
            c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(S, aPacked[aIdx + 3]);
            c30 = a.fma(b0, c30);
            c31 = a.fma(b1, c31);
            a = FloatVector.broadcast(S, aPacked[aIdx + 4]);
            c40 = a.fma(b0, c40);
            c41 = a.fma(b1, c41);
            a = FloatVector.broadcast(S, aPacked[aIdx + 5]);
            c50 = a.fma(b0, c50);
            c51 = a.fma(b1, c51);
        }
        if (nr == NR) {
            writeRow(c, cIdx, c00, c01, add);
            if (mr > 1) writeRow(c, cIdx + ldc, c10, c11, add);
            if (mr > 2) writeRow(c, cIdx + 2 * ldc, c20, c21, add);
            if (mr > 3) writeRow(c, cIdx + 3 * ldc, c30, c31, add);
            if (mr > 4) writeRow(c, cIdx + 4 * ldc, c40, c41, add);
            if (mr > 5) writeRow(c, cIdx + 5 * ldc, c50, c51, add);
        } else {
            VectorMask<Float> mask0 = S.indexInRange(0, nr);
            VectorMask<Float> mask1 = S.indexInRange(L, nr);
            writeRowMasked(c, cIdx, c00, c01, mask0, mask1, add);
            if (mr > 1) writeRowMasked(c, cIdx + ldc, c10, c11, mask0, mask1, add);
            if (mr > 2) writeRowMasked(c, cIdx + 2 * ldc, c20, c21, mask0, mask1, add);
            if (mr > 3) writeRowMasked(c, cIdx + 3 * ldc, c30, c31, mask0, mask1, add);
            if (mr > 4) writeRowMasked(c, cIdx + 4 * ldc, c40, c41, mask0, mask1, add);
            if (mr > 5) writeRowMasked(c, cIdx + 5 * ldc, c50, c51, mask0, mask1, add);
        }
    }

    private static void writeRow(float[] c, int idx, FloatVector v0, FloatVector v1, boolean add) {
        if (add) {
            v0 = v0.add(FloatVector.fromArray(S, c, idx));
            v1 = v1.add(FloatVector.fromArray(S, c, idx + L));
        }
        v0.intoArray(c, idx);
        v1.intoArray(c, idx + L);
    }

    private static void writeRowMasked(float[] c, int idx, FloatVector v0, FloatVector v1,
                                       VectorMask<Float> mask0, VectorMask<Float> mask1, boolean add) {
        if (add) {
            v0 = v0.add(FloatVector.fromArray(S, c, idx, mask0));
            v1 = v1.add(FloatVector.fromArray(S, c, idx + L, mask1));
        }
        v0.intoArray(c, idx, mask0);
        v1.intoArray(c, idx + L, mask1);
    }
}
