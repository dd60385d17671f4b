package org.sparkmoe.model.backend.cpu;

/**
 * Attention of new query rows against a KV cache on the CPU (generation), one (row, head) pair per task: disjoint
 * outputs, so the parallel loop is deterministic. Scores are {@link SmallGemm}'s vectorised dot products over the
 * head dim (lanes summed in a fixed order), the softmax is in fp32 with an fp64 sum as in {@link CpuAttention}, and
 * {@code P·V} is a vectorised row update per key.
 *
 * <p>Legend: q, out {@code [R, H, Dh]}; kCache, vCache {@code [S·C, H, Dh]} (sequence s owns rows s·C ..
 * s·C + C − 1); slots, positions {@code [R]} (int32): row r reads cache rows {@code slots[r] − positions[r] ..
 * slots[r]}.
 */
final class CpuCachedAttention {

    private CpuCachedAttention() {
    }

    static void forward(float[] q, int q0, float[] kCache, int k0, float[] vCache, int v0, float[] out, int out0,
                        int[] slots, int s0, int[] positions, int p0, int rows, int heads, int dh, int cacheRows,
                        CpuPool pool) {
        float scale = (float) (1.0 / Math.sqrt(dh));
        int ld = heads * dh;
        pool.parallelFor(rows * heads, rh -> {
            int r = rh / heads;
            int h = rh % heads;
            int slot = slots[s0 + r];
            int keys = positions[p0 + r] + 1;
            int first = slot - keys + 1;
            if (keys < 1 || first < 0 || slot >= cacheRows) {
                throw new IllegalArgumentException("row " + r + ": slot " + slot + " at position " + (keys - 1)
                        + " does not fit a cache of " + cacheRows + " rows");
            }
            int qRow = q0 + r * ld + h * dh;
            float[] p = new float[keys];
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < keys; j++) {
                p[j] = SmallGemm.dot(dh, q, qRow, kCache, k0 + (first + j) * ld + h * dh) * scale;
                max = Math.max(max, p[j]);
            }
            double sum = 0;
            for (int j = 0; j < keys; j++) {
                p[j] = (float) Math.exp(p[j] - max);
                sum += p[j];
            }
            float inv = (float) (1.0 / sum);
            int outRow = out0 + r * ld + h * dh;
            java.util.Arrays.fill(out, outRow, outRow + dh, 0f);
            for (int j = 0; j < keys; j++) {
                SmallGemm.axpy(dh, p[j] * inv, vCache, v0 + (first + j) * ld + h * dh, out, outRow);
            }
        });
    }
}
