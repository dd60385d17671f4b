package org.sparkmoe.model.backend.cpu;

/**
 * Causal multi-head attention on the CPU, one (batch, head) pair per task: its outputs are disjoint slices, so the
 * parallel loop is deterministic. Scores are recomputed in backward from the saved log-sum-exp (flash style)
 * instead of storing the T×T probabilities.
 *
 * <p>Legend: q, k, v, out, dq, dk, dv are {@code [B, T, H, Dh]} (offsets q0, ...); lse is {@code [B, H, T]}.
 */
final class CpuAttention {

    private CpuAttention() {
    }

    static void forward(float[] q, int q0, float[] k, int k0, float[] v, int v0, float[] out, int out0,
                        float[] lse, int lse0, int b, int t, int h, int dh, CpuPool pool) {
        float scale = (float) (1.0 / Math.sqrt(dh));
        int rowStride = h * dh;
        pool.parallelFor(b * h, bh -> {
            int bi = bh / h;
            int hi = bh % h;
            float[] p = new float[t];
            int base = bi * t * rowStride + hi * dh;
            for (int ti = 0; ti < t; ti++) {
                int qRow = q0 + base + ti * rowStride;
                float max = Float.NEGATIVE_INFINITY;
                for (int s = 0; s <= ti; s++) {
                    int kRow = k0 + base + s * rowStride;
                    float dot = 0f;
                    for (int d = 0; d < dh; d++) {
                        dot += q[qRow + d] * k[kRow + d];
                    }
                    p[s] = dot * scale;
                    max = Math.max(max, p[s]);
                }
                double sum = 0;
                for (int s = 0; s <= ti; s++) {
                    p[s] = (float) Math.exp(p[s] - max);
                    sum += p[s];
                }
                float inv = (float) (1.0 / sum);
                int oRow = out0 + base + ti * rowStride;
                java.util.Arrays.fill(out, oRow, oRow + dh, 0f);
                for (int s = 0; s <= ti; s++) {
                    float ps = p[s] * inv;
                    int vRow = v0 + base + s * rowStride;
                    for (int d = 0; d < dh; d++) {
                        out[oRow + d] += ps * v[vRow + d];
                    }
                }
                lse[lse0 + bh * t + ti] = max + (float) Math.log(sum);
            }
        });
    }

    static void backward(float[] dOut, int dOut0, float[] q, int q0, float[] k, int k0, float[] v, int v0,
                         float[] out, int out0, float[] lse, int lse0, float[] dq, int dq0, float[] dk, int dk0,
                         float[] dv, int dv0, int b, int t, int h, int dh, CpuPool pool) {
        float scale = (float) (1.0 / Math.sqrt(dh));
        int rowStride = h * dh;
        pool.parallelFor(b * h, bh -> {
            int bi = bh / h;
            int hi = bh % h;
            int base = bi * t * rowStride + hi * dh;
            for (int ti = 0; ti < t; ti++) {
                int r = base + ti * rowStride;
                java.util.Arrays.fill(dq, dq0 + r, dq0 + r + dh, 0f);
                java.util.Arrays.fill(dk, dk0 + r, dk0 + r + dh, 0f);
                java.util.Arrays.fill(dv, dv0 + r, dv0 + r + dh, 0f);
            }
            for (int ti = 0; ti < t; ti++) {
                int qRow = base + ti * rowStride;
                float rowLse = lse[lse0 + bh * t + ti];
                float delta = 0f;
                for (int d = 0; d < dh; d++) {
                    delta += dOut[dOut0 + qRow + d] * out[out0 + qRow + d];
                }
                for (int s = 0; s <= ti; s++) {
                    int kRow = base + s * rowStride;
                    float dot = 0f;
                    float dp = 0f;
                    for (int d = 0; d < dh; d++) {
                        dot += q[q0 + qRow + d] * k[k0 + kRow + d];
                        dp += dOut[dOut0 + qRow + d] * v[v0 + kRow + d];
                    }
                    float p = (float) Math.exp(dot * scale - rowLse);
                    float ds = p * (dp - delta) * scale;
                    for (int d = 0; d < dh; d++) {
                        dv[dv0 + kRow + d] += p * dOut[dOut0 + qRow + d];
                        dq[dq0 + qRow + d] += ds * k[k0 + kRow + d];
                        dk[dk0 + kRow + d] += ds * q[q0 + qRow + d];
                    }
                }
            }
        });
    }
}
