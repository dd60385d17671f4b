package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.sparkmoe.model.backend.cpu.CpuVectors.FLOATS;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;

/**
 * RMSNorm on the CPU: {@code y = x · rstd · w}, {@code rstd = 1/sqrt(mean(x²) + eps)} per row (fp64 sum of
 * squares, like the reference's fp32 statistics but without its rounding in long rows), alone or after the residual
 * add it follows in a pre-norm block. The elementwise parts run on {@link CpuVectors#FLOATS}; the sum of squares
 * stays one sequential fp64 sum per row, so the fused form equals the add and the norm apart bit for bit.
 *
 * <p>Legend: x, branch, sum, y, dy, dx are {@code [R, D]}; w, dw {@code [D]}; rstd {@code [R]}.
 */
final class CpuRmsNorm {

    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private CpuRmsNorm() {
    }

    static void forward(MemorySegment x, MemorySegment w, MemorySegment y, MemorySegment rstd, int rows, int dim,
                        float eps, CpuPool pool) {
        pool.parallelFor(rows, r -> normalizeRow(x, w, y, rstd, r, dim, eps));
    }

    /** {@code sum = x + branch}, then the norm of sum, row by row (sum may alias x or branch). */
    static void forwardResidual(MemorySegment x, MemorySegment branch, MemorySegment sum, MemorySegment w,
                                MemorySegment y, MemorySegment rstd, int rows, int dim, float eps, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            long first = 4L * r * dim;
            long end = first + 4L * dim;
            long at = first;
            for (long bound = first + 4L * FLOATS.loopBound(dim); at < bound; at += FLOATS.vectorByteSize()) {
                FloatVector.fromMemorySegment(FLOATS, x, at, ORDER)
                        .add(FloatVector.fromMemorySegment(FLOATS, branch, at, ORDER))
                        .intoMemorySegment(sum, at, ORDER);
            }
            for (; at < end; at += 4) {
                sum.set(JAVA_FLOAT, at, x.get(JAVA_FLOAT, at) + branch.get(JAVA_FLOAT, at));
            }
            normalizeRow(sum, w, y, rstd, r, dim, eps);
        });
    }

    private static void normalizeRow(MemorySegment x, MemorySegment w, MemorySegment y, MemorySegment rstd, int r,
                                     int dim, float eps) {
        long row = (long) r * dim;
        double ss = 0;
        for (int d = 0; d < dim; d++) {
            float v = x.getAtIndex(JAVA_FLOAT, row + d);
            ss += v * v;
        }
        float s = (float) (1.0 / Math.sqrt(ss / dim + eps));
        rstd.setAtIndex(JAVA_FLOAT, r, s);
        FloatVector scale = FloatVector.broadcast(FLOATS, s);
        int d = 0;
        for (int bound = FLOATS.loopBound(dim); d < bound; d += FLOATS.length()) {
            long at = 4 * (row + d);
            FloatVector.fromMemorySegment(FLOATS, x, at, ORDER).mul(scale)
                    .mul(FloatVector.fromMemorySegment(FLOATS, w, 4L * d, ORDER))
                    .intoMemorySegment(y, at, ORDER);
        }
        for (; d < dim; d++) {
            y.setAtIndex(JAVA_FLOAT, row + d, x.getAtIndex(JAVA_FLOAT, row + d) * s * w.getAtIndex(JAVA_FLOAT, d));
        }
    }

    /** dx += rstd·(dy⊙w) − rstd³/D · x · Σ(dy⊙w⊙x); dw += Σ_r dy⊙x·rstd (rows in order: deterministic). */
    static void backward(MemorySegment dy, MemorySegment x, MemorySegment w, MemorySegment rstd, MemorySegment dx,
                         MemorySegment dw, int rows, int dim, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            long row = (long) r * dim;
            float s = rstd.getAtIndex(JAVA_FLOAT, r);
            double dot = 0;
            for (int d = 0; d < dim; d++) {
                dot += dy.getAtIndex(JAVA_FLOAT, row + d) * w.getAtIndex(JAVA_FLOAT, d) * x.getAtIndex(JAVA_FLOAT, row + d);
            }
            float c = (float) (dot * s * s * s / dim);
            for (int d = 0; d < dim; d++) {
                dx.setAtIndex(JAVA_FLOAT, row + d, dx.getAtIndex(JAVA_FLOAT, row + d)
                        + s * dy.getAtIndex(JAVA_FLOAT, row + d) * w.getAtIndex(JAVA_FLOAT, d)
                        - c * x.getAtIndex(JAVA_FLOAT, row + d));
            }
        });
        pool.parallelFor(dim, d -> {
            float acc = 0f;
            for (int r = 0; r < rows; r++) {
                long at = (long) r * dim + d;
                acc += dy.getAtIndex(JAVA_FLOAT, at) * x.getAtIndex(JAVA_FLOAT, at) * rstd.getAtIndex(JAVA_FLOAT, r);
            }
            dw.setAtIndex(JAVA_FLOAT, d, dw.getAtIndex(JAVA_FLOAT, d) + acc);
        });
    }
}
