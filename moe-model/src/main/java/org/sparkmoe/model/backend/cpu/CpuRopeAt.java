package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * Rotate-half RoPE with a position per row, on the CPU (generation: new rows continue after a KV cache). Angles are
 * computed exactly as {@link CpuRope} computes them ({@code inv_freq_i} and {@code angle = p·inv_freq_i} in fp32,
 * cos and sin in fp64), so a row at position p is rotated bit-identically to row p of a full sequence.
 *
 * <p>Legend: x is {@code [R, H, Dh]}, rotated in place; positions {@code [R]} (int32).
 */
final class CpuRopeAt {

    private CpuRopeAt() {
    }

    static void apply(MemorySegment x, MemorySegment positions, int rows, int heads, int dh, float theta,
                      CpuPool pool) {
        int half = dh / 2;
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / dh));
        }
        pool.parallelFor(rows, r -> {
            int position = positions.getAtIndex(JAVA_INT, r);
            if (position < 0) {
                throw new IllegalArgumentException("position " + position + " of row " + r + " is negative");
            }
            float[] cos = new float[half];
            float[] sin = new float[half];
            for (int i = 0; i < half; i++) {
                float angle = position * invFreq[i];
                cos[i] = (float) Math.cos(angle);
                sin[i] = (float) Math.sin(angle);
            }
            for (int h = 0; h < heads; h++) {
                long base = ((long) r * heads + h) * dh;
                for (int i = 0; i < half; i++) {
                    float x1 = x.getAtIndex(JAVA_FLOAT, base + i);
                    float x2 = x.getAtIndex(JAVA_FLOAT, base + i + half);
                    x.setAtIndex(JAVA_FLOAT, base + i, x1 * cos[i] - x2 * sin[i]);
                    x.setAtIndex(JAVA_FLOAT, base + i + half, x2 * cos[i] + x1 * sin[i]);
                }
            }
        });
    }
}
