package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;

/**
 * Rotate-half RoPE on the CPU (DeepSeekMoE/NeoX pairing: dim i with i + Dh/2). Frequencies are computed in fp32
 * as the reference does ({@code inv_freq_i = 1 / theta^(2i/Dh)}, angle = t·inv_freq in fp32).
 *
 * <p>Legend: x is {@code [B, T, H, Dh]}, rotated in place.
 */
final class CpuRope {

    private CpuRope() {
    }

    static void apply(MemorySegment x, int b, int t, int h, int dh, float theta, boolean inverse, CpuPool pool) {
        int half = dh / 2;
        float[] cos = new float[t * half];
        float[] sin = new float[t * half];
        for (int i = 0; i < half; i++) {
            float invFreq = (float) (1.0 / Math.pow(theta, (2.0 * i) / dh));
            for (int ti = 0; ti < t; ti++) {
                float angle = ti * invFreq;
                cos[ti * half + i] = (float) Math.cos(angle);
                sin[ti * half + i] = inverse ? -(float) Math.sin(angle) : (float) Math.sin(angle);
            }
        }
        pool.parallelFor(b * t, bt -> {
            int ti = bt % t;
            for (int hi = 0; hi < h; hi++) {
                long base = ((long) bt * h + hi) * dh;
                for (int i = 0; i < half; i++) {
                    float c = cos[ti * half + i];
                    float s = sin[ti * half + i];
                    float x1 = x.getAtIndex(JAVA_FLOAT, base + i);
                    float x2 = x.getAtIndex(JAVA_FLOAT, base + i + half);
                    x.setAtIndex(JAVA_FLOAT, base + i, x1 * c - x2 * s);
                    x.setAtIndex(JAVA_FLOAT, base + i + half, x2 * c + x1 * s);
                }
            }
        });
    }
}
