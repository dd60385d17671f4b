package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;

/**
 * AdamW with decoupled weight decay and bias correction, elementwise over segments of any length (long indices;
 * parallel over disjoint chunks).
 */
final class CpuAdamW {

    private static final int CHUNK = 1 << 14;

    private CpuAdamW() {
    }

    static void step(MemorySegment p, MemorySegment g, MemorySegment m, MemorySegment v, long n, float lr,
                     float beta1, float beta2, float eps, float weightDecay, float gradScale, int step, CpuPool pool) {
        float c1 = (float) (1.0 / (1.0 - Math.pow(beta1, step)));
        float c2 = (float) (1.0 / (1.0 - Math.pow(beta2, step)));
        pool.parallelFor(Math.toIntExact((n + CHUNK - 1) / CHUNK), chunk -> {
            long end = Math.min(n, (chunk + 1L) * CHUNK);
            for (long i = (long) chunk * CHUNK; i < end; i++) {
                float grad = g.getAtIndex(JAVA_FLOAT, i) * gradScale;
                float mi = beta1 * m.getAtIndex(JAVA_FLOAT, i) + (1f - beta1) * grad;
                float vi = beta2 * v.getAtIndex(JAVA_FLOAT, i) + (1f - beta2) * grad * grad;
                m.setAtIndex(JAVA_FLOAT, i, mi);
                v.setAtIndex(JAVA_FLOAT, i, vi);
                float update = (mi * c1) / ((float) Math.sqrt(vi * c2) + eps);
                float pi = p.getAtIndex(JAVA_FLOAT, i);
                p.setAtIndex(JAVA_FLOAT, i, pi - lr * (update + weightDecay * pi));
            }
        });
    }
}
