package org.sparkmoe.model.backend.cpu;

/**
 * RMSNorm on the CPU: {@code y = x · rstd · w}, {@code rstd = 1/sqrt(mean(x²) + eps)} per row (fp64 sum of
 * squares, like the reference's fp32 statistics but without its rounding in long rows).
 *
 * <p>Legend: x, y, dy, dx are {@code [R, D]}; w, dw {@code [D]}; rstd {@code [R]}.
 */
final class CpuRmsNorm {

    private CpuRmsNorm() {
    }

    static void forward(float[] x, int x0, float[] w, int w0, float[] y, int y0, float[] rstd, int r0, int rows,
                        int dim, float eps, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int row = r * dim;
            double ss = 0;
            for (int d = 0; d < dim; d++) {
                float v = x[x0 + row + d];
                ss += v * v;
            }
            float s = (float) (1.0 / Math.sqrt(ss / dim + eps));
            rstd[r0 + r] = s;
            for (int d = 0; d < dim; d++) {
                y[y0 + row + d] = x[x0 + row + d] * s * w[w0 + d];
            }
        });
    }

    /** dx += rstd·(dy⊙w) − rstd³/D · x · Σ(dy⊙w⊙x); dw += Σ_r dy⊙x·rstd (rows in order: deterministic). */
    static void backward(float[] dy, int dy0, float[] x, int x0, float[] w, int w0, float[] rstd, int r0,
                         float[] dx, int dx0, float[] dw, int dw0, int rows, int dim, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int row = r * dim;
            float s = rstd[r0 + r];
            double dot = 0;
            for (int d = 0; d < dim; d++) {
                dot += dy[dy0 + row + d] * w[w0 + d] * x[x0 + row + d];
            }
            float c = (float) (dot * s * s * s / dim);
            for (int d = 0; d < dim; d++) {
                dx[dx0 + row + d] += s * dy[dy0 + row + d] * w[w0 + d] - c * x[x0 + row + d];
            }
        });
        pool.parallelFor(dim, d -> {
            float acc = 0f;
            for (int r = 0; r < rows; r++) {
                acc += dy[dy0 + r * dim + d] * x[x0 + r * dim + d] * rstd[r0 + r];
            }
            dw[dw0 + d] += acc;
        });
    }
}
