package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * Attention of new query rows against a KV cache on the CPU (generation), one (row, head) pair per task: disjoint
 * outputs, so the parallel loop is deterministic. Scores are {@link SmallGemm}'s vectorised dot products over the
 * head dim (lanes summed in a fixed order), the softmax is in fp32 with an fp64 sum as in {@link CpuAttention}, and
 * {@code P·V} is a vectorised row update per key. The cache may exceed 2^31 elements: offsets are long.
 *
 * <p>Legend: q, out {@code [R, H, Dh]}; kCache, vCache {@code [S·C, H, Dh]} (sequence s owns rows s·C ..
 * s·C + C − 1); slots, positions {@code [R]} (int32): row r reads cache rows {@code slots[r] − positions[r] ..
 * slots[r]}; p a task's {@code [keys]} probabilities.
 */
final class CpuCachedAttention {

    private CpuCachedAttention() {
    }

    static void forward(MemorySegment q, MemorySegment kCache, MemorySegment vCache, MemorySegment out,
                        MemorySegment slots, MemorySegment positions, int rows, int heads, int dh, long cacheRows,
                        CpuPool pool) {
        float scale = (float) (1.0 / Math.sqrt(dh));
        int ld = heads * dh;
        pool.parallelFor(rows * heads, rh -> {
            int r = rh / heads;
            int h = rh % heads;
            int slot = slots.getAtIndex(JAVA_INT, r);
            int position = positions.getAtIndex(JAVA_INT, r);
            long first = (long) slot - position;
            if (position < 0 || first < 0 || slot >= cacheRows) {
                throw new IllegalArgumentException("row " + r + ": slot " + slot + " at position " + position
                        + " does not fit a cache of " + cacheRows + " rows");
            }
            int keys = position + 1;
            long qRow = (long) r * ld + (long) h * dh;
            float[] p = new float[keys];
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < keys; j++) {
                p[j] = SmallGemm.dot(dh, q, qRow, kCache, (first + j) * ld + (long) h * dh) * scale;
                max = Math.max(max, p[j]);
            }
            double sum = 0;
            for (int j = 0; j < keys; j++) {
                p[j] = (float) Math.exp(p[j] - max);
                sum += p[j];
            }
            float inv = (float) (1.0 / sum);
            long outRow = (long) r * ld + (long) h * dh;
            out.asSlice(4 * outRow, 4L * dh).fill((byte) 0);
            for (int j = 0; j < keys; j++) {
                SmallGemm.axpy(dh, p[j] * inv, vCache, (first + j) * ld + (long) h * dh, out, outRow);
            }
        });
    }
}
