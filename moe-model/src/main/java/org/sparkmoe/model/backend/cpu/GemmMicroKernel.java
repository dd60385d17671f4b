package org.sparkmoe.model.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
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
    /** Floats of the scratch tile {@link #multiply} needs. */
    static final int TILE = MR * NR;

    private GemmMicroKernel() {}

    /**
     * C[0:mr, 0:nr] at float {@code cIdx} of {@code c} (row stride {@code ldc}) (+)= Ap_(kc×MR) · Bp_(kc×NR), where the packed
     * panels start at {@code aIdx} and {@code bIdx}. {@code add=false} overwrites the tile. {@code tile} is
     * scratch space of at least {@link #TILE} floats.
     */
    static void multiply(int kc, float[] aPacked, int aIdx, float[] bPacked, int bIdx,
                         MemorySegment c, long cIdx, int ldc, int mr, int nr, boolean add, float[] tile) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            // Indices linear in p: the form that C2's range-check elimination recognises.
            int ap = aIdx + p * MR;
            int bp = bIdx + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, bPacked, bp);
            FloatVector b1 = FloatVector.fromArray(S, bPacked, bp + L);
            FloatVector a = FloatVector.broadcast(S, aPacked[ap]);
            c00 = a.fma(b0, c00);
            c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(S, aPacked[ap + 1]);
            c10 = a.fma(b0, c10);
            c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(S, aPacked[ap + 2]);
            c20 = a.fma(b0, c20);
            c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(S, aPacked[ap + 3]);
            c30 = a.fma(b0, c30);
            c31 = a.fma(b1, c31);
            a = FloatVector.broadcast(S, aPacked[ap + 4]);
            c40 = a.fma(b0, c40);
            c41 = a.fma(b1, c41);
            a = FloatVector.broadcast(S, aPacked[ap + 5]);
            c50 = a.fma(b0, c50);
            c51 = a.fma(b1, c51);
        }
        // Park the accumulators in the scratch tile with intrinsic stores. Passing them to a helper instead would
        // box all 12 whenever the JIT declines to inline it (it does once the method's node count is high).
        c00.intoArray(tile, 0);
        c01.intoArray(tile, L);
        c10.intoArray(tile, NR);
        c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR);
        c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR);
        c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR);
        c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR);
        c51.intoArray(tile, 5 * NR + L);
        writeTile(tile, c, cIdx, ldc, mr, nr, add);
    }

    /** C[0:mr, 0:nr] (+)= tile[0:mr, 0:nr]; full rows as plain vectors, a partial width under a mask. */
    private static void writeTile(float[] tile, MemorySegment c, long cIdx, int ldc, int mr, int nr, boolean add) {
        VectorMask<Float> mask0 = S.indexInRange(0, nr);
        VectorMask<Float> mask1 = S.indexInRange(L, nr);
        ByteOrder order = ByteOrder.nativeOrder();
        long rowBytes = 4L * ldc;
        long at = 4 * cIdx;
        for (int r = 0; r < mr; r++, at += rowBytes) {
            FloatVector v0 = FloatVector.fromArray(S, tile, r * NR);
            FloatVector v1 = FloatVector.fromArray(S, tile, r * NR + L);
            if (nr == NR) {
                if (add) {
                    v0 = v0.add(FloatVector.fromMemorySegment(S, c, at, order));
                    v1 = v1.add(FloatVector.fromMemorySegment(S, c, at + 4L * L, order));
                }
                v0.intoMemorySegment(c, at, order);
                v1.intoMemorySegment(c, at + 4L * L, order);
            } else {
                if (add) {
                    v0 = v0.add(FloatVector.fromMemorySegment(S, c, at, order, mask0));
                    v1 = v1.add(FloatVector.fromMemorySegment(S, c, at + 4L * L, order, mask1));
                }
                v0.intoMemorySegment(c, at, order, mask0);
                v1.intoMemorySegment(c, at + 4L * L, order, mask1);
            }
        }
    }
}
