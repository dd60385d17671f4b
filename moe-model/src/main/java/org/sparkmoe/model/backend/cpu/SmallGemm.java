package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * GEMM without packing, for shapes where packing costs more than it saves: matrix-vector products (M or N is 1)
 * and tiny products. NN and TN run as vectorised row updates C[i,:] += a·B[p,:]; NT as vectorised dot products.
 * Operands are fp32 segments, offsets in floats.
 */
final class SmallGemm {
    private static final VectorSpecies<Float> S = CpuVectors.FLOATS;
    private static final int L = CpuVectors.LANES;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private SmallGemm() {}

    /** C_MN (+)= op(A) · op(B) on the calling thread; shapes are already validated. */
    static void multiply(GemmCase gemmCase, int m, int n, int k, MemorySegment a, long aOff, int lda,
                         MemorySegment b, long bOff, int ldb, MemorySegment c, long cOff, int ldc,
                         boolean accumulate) {
        if (gemmCase == GemmCase.NT) {
            for (int i = 0; i < m; i++) {
                long aRow = aOff + (long) i * lda;
                long cRow = cOff + (long) i * ldc;
                for (int j = 0; j < n; j++) {
                    float sum = dot(k, a, aRow, b, bOff + (long) j * ldb);
                    c.setAtIndex(JAVA_FLOAT, cRow + j, accumulate ? c.getAtIndex(JAVA_FLOAT, cRow + j) + sum : sum);
                }
            }
            return;
        }
        if (!accumulate) {
            for (int i = 0; i < m; i++) c.asSlice(4 * (cOff + (long) i * ldc), 4L * n).fill((byte) 0);
        }
        boolean aTransposed = gemmCase.aTransposed();
        for (int i = 0; i < m; i++) {
            long cRow = cOff + (long) i * ldc;
            for (int p = 0; p < k; p++) {
                float aip = a.getAtIndex(JAVA_FLOAT, aTransposed ? aOff + (long) p * lda + i : aOff + (long) i * lda + p);
                axpy(n, aip, b, bOff + (long) p * ldb, c, cRow);
            }
        }
    }

    static float dot(int k, MemorySegment x, long xIdx, MemorySegment y, long yIdx) {
        FloatVector sum = FloatVector.zero(S);
        int p = 0;
        for (int bound = S.loopBound(k); p < bound; p += L) {
            sum = FloatVector.fromMemorySegment(S, x, 4 * (xIdx + p), ORDER)
                    .fma(FloatVector.fromMemorySegment(S, y, 4 * (yIdx + p), ORDER), sum);
        }
        // Fixed lane order: reduceLanes(ADD) may reorder differently in interpreted and compiled code, which
        // would make training depend on JIT timing (the engine promises bit-identical runs per seed).
        float result = 0f;
        for (int lane = 0; lane < L; lane++) result += sum.lane(lane);
        for (; p < k; p++) result += x.getAtIndex(JAVA_FLOAT, xIdx + p) * y.getAtIndex(JAVA_FLOAT, yIdx + p);
        return result;
    }

    /** y[0:n] += alpha · x[0:n]. */
    static void axpy(int n, float alpha, MemorySegment x, long xIdx, MemorySegment y, long yIdx) {
        FloatVector alphaV = FloatVector.broadcast(S, alpha);
        int j = 0;
        for (int bound = S.loopBound(n); j < bound; j += L) {
            long yAt = 4 * (yIdx + j);
            alphaV.fma(FloatVector.fromMemorySegment(S, x, 4 * (xIdx + j), ORDER),
                    FloatVector.fromMemorySegment(S, y, yAt, ORDER)).intoMemorySegment(y, yAt, ORDER);
        }
        for (; j < n; j++) {
            y.setAtIndex(JAVA_FLOAT, yIdx + j, y.getAtIndex(JAVA_FLOAT, yIdx + j) + alpha * x.getAtIndex(JAVA_FLOAT, xIdx + j));
        }
    }
}
