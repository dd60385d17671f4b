package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;

/**
 * RMSNorm on the CPU: {@code y = x · rstd · w}, {@code rstd = 1/sqrt(mean(x²) + eps)} per row (fp64 sum of
 * squares, like the reference's fp32 statistics but without its rounding in long rows).
 *
 * <p>Legend: x, y, dy, dx are {@code [R, D]}; w, dw {@code [D]}; rstd {@code [R]}.
 */
final class CpuRmsNorm {

    private CpuRmsNorm() {
    }

    static void forward(MemorySegment x, MemorySegment w, MemorySegment y, MemorySegment rstd, int rows, int dim,
                        float eps, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            long row = (long) r * dim;
            double ss = 0;
            for (int d = 0; d < dim; d++) {
                float v = x.getAtIndex(JAVA_FLOAT, row + d);
                ss += v * v;
            }
            float s = (float) (1.0 / Math.sqrt(ss / dim + eps));
            rstd.setAtIndex(JAVA_FLOAT, r, s);
            for (int d = 0; d < dim; d++) {
                y.setAtIndex(JAVA_FLOAT, row + d, x.getAtIndex(JAVA_FLOAT, row + d) * s * w.getAtIndex(JAVA_FLOAT, d));
            }
        });
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
