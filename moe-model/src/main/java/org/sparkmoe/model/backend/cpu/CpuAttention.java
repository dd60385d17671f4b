package org.sparkmoe.model.backend.cpu;

/**
 * Causal multi-head attention on the CPU, one (batch, head) pair per task (disjoint outputs, so the parallel loop
 * is deterministic). Each task works in query blocks of {@link #BLOCK} rows: the scores of a block against the
 * keys up to its last row, the softmax, and the products with V are serial {@link Gemm} calls over the
 * head's strided rows (leading dimension H·Dh), so only the causal lower part is computed, packed and vectorised.
 * Backward recomputes the probabilities from the saved log-sum-exp instead of storing T×T per head.
 *
 * <p>Legend: q, k, v, out, dOut, dq, dk, dv are {@code [B, T, H, Dh]}; lse is {@code [B, H, T]}; s, p, dp are a
 * block's {@code [QB, T]} scratch.
 */
final class CpuAttention {

    /** Query rows per block: bounds the scratch (BLOCK·T floats) and the causal waste (half a block). */
    static final int BLOCK = 64;

    private CpuAttention() {
    }

    static void forward(float[] q, int q0, float[] k, int k0, float[] v, int v0, float[] out, int out0,
                        float[] lse, int lse0, int b, int t, int h, int dh, CpuPool pool) {
        float scale = (float) (1.0 / Math.sqrt(dh));
        int ld = h * dh;
        pool.parallelFor(b * h, bh -> {
            int head = (bh / h) * t * ld + (bh % h) * dh;
            float[] s = new float[BLOCK * t];
            for (int i0 = 0; i0 < t; i0 += BLOCK) {
                int rows = Math.min(BLOCK, t - i0);
                int keys = i0 + rows;
                Gemm.run(CpuThreadPool.serial(), GemmCase.NT, rows, keys, dh, q, q0 + head + i0 * ld, ld, k,
                        k0 + head, ld, s, 0, keys, false);
                for (int r = 0; r < rows; r++) {
                    int row = r * keys;
                    int visible = i0 + r + 1;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < visible; j++) {
                        s[row + j] *= scale;
                        max = Math.max(max, s[row + j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < visible; j++) {
                        float e = (float) Math.exp(s[row + j] - max);
                        s[row + j] = e;
                        sum += e;
                    }
                    float inv = (float) (1.0 / sum);
                    for (int j = 0; j < visible; j++) {
                        s[row + j] *= inv;
                    }
                    java.util.Arrays.fill(s, row + visible, row + keys, 0f);
                    lse[lse0 + bh * t + i0 + r] = max + (float) Math.log(sum);
                }
                Gemm.run(CpuThreadPool.serial(), GemmCase.NN, rows, dh, keys, s, 0, keys, v, v0 + head, ld, out,
                        out0 + head + i0 * ld, ld, false);
            }
        });
    }

    static void backward(float[] dOut, int dOut0, float[] q, int q0, float[] k, int k0, float[] v, int v0,
                         float[] out, int out0, float[] lse, int lse0, float[] dq, int dq0, float[] dk, int dk0,
                         float[] dv, int dv0, int b, int t, int h, int dh, CpuPool pool) {
        float scale = (float) (1.0 / Math.sqrt(dh));
        int ld = h * dh;
        pool.parallelFor(b * h, bh -> {
            int head = (bh / h) * t * ld + (bh % h) * dh;
            for (int ti = 0; ti < t; ti++) {
                java.util.Arrays.fill(dk, dk0 + head + ti * ld, dk0 + head + ti * ld + dh, 0f);
                java.util.Arrays.fill(dv, dv0 + head + ti * ld, dv0 + head + ti * ld + dh, 0f);
            }
            float[] p = new float[BLOCK * t];
            float[] dp = new float[BLOCK * t];
            for (int i0 = 0; i0 < t; i0 += BLOCK) {
                int rows = Math.min(BLOCK, t - i0);
                int keys = i0 + rows;
                Gemm.run(CpuThreadPool.serial(), GemmCase.NT, rows, keys, dh, q, q0 + head + i0 * ld, ld, k,
                        k0 + head, ld, p, 0, keys, false);
                Gemm.run(CpuThreadPool.serial(), GemmCase.NT, rows, keys, dh, dOut, dOut0 + head + i0 * ld, ld, v,
                        v0 + head, ld, dp, 0, keys, false);
                for (int r = 0; r < rows; r++) {
                    int row = r * keys;
                    int visible = i0 + r + 1;
                    int qRow = head + (i0 + r) * ld;
                    float rowLse = lse[lse0 + bh * t + i0 + r];
                    float delta = 0f;
                    for (int d = 0; d < dh; d++) {
                        delta += dOut[dOut0 + qRow + d] * out[out0 + qRow + d];
                    }
                    for (int j = 0; j < visible; j++) {
                        float prob = (float) Math.exp(p[row + j] * scale - rowLse);
                        p[row + j] = prob;
                        dp[row + j] = prob * (dp[row + j] - delta) * scale;
                    }
                    java.util.Arrays.fill(p, row + visible, row + keys, 0f);
                    java.util.Arrays.fill(dp, row + visible, row + keys, 0f);
                }
                // dq_block = dS · K;  dk += dSᵀ · q_block;  dv += Pᵀ · dOut_block
                Gemm.run(CpuThreadPool.serial(), GemmCase.NN, rows, dh, keys, dp, 0, keys, k, k0 + head, ld, dq,
                        dq0 + head + i0 * ld, ld, false);
                Gemm.run(CpuThreadPool.serial(), GemmCase.TN, keys, dh, rows, dp, 0, keys, q, q0 + head + i0 * ld,
                        ld, dk, dk0 + head, ld, true);
                Gemm.run(CpuThreadPool.serial(), GemmCase.TN, keys, dh, rows, p, 0, keys, dOut,
                        dOut0 + head + i0 * ld, ld, dv, dv0 + head, ld, true);
            }
        });
    }
}
