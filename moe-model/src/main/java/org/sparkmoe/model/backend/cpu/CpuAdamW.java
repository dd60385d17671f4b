package org.sparkmoe.model.backend.cpu;

/** AdamW with decoupled weight decay and bias correction, elementwise (parallel over disjoint chunks). */
final class CpuAdamW {

    private static final int CHUNK = 1 << 14;

    private CpuAdamW() {
    }

    static void step(float[] p, int p0, float[] g, int g0, float[] m, int m0, float[] v, int v0, int n, float lr,
                     float beta1, float beta2, float eps, float weightDecay, float gradScale, int step, CpuPool pool) {
        float c1 = (float) (1.0 / (1.0 - Math.pow(beta1, step)));
        float c2 = (float) (1.0 / (1.0 - Math.pow(beta2, step)));
        pool.parallelFor((n + CHUNK - 1) / CHUNK, chunk -> {
            int end = Math.min(n, (chunk + 1) * CHUNK);
            for (int i = chunk * CHUNK; i < end; i++) {
                float grad = g[g0 + i] * gradScale;
                float mi = beta1 * m[m0 + i] + (1f - beta1) * grad;
                float vi = beta2 * v[v0 + i] + (1f - beta2) * grad * grad;
                m[m0 + i] = mi;
                v[v0 + i] = vi;
                float update = (mi * c1) / ((float) Math.sqrt(vi * c2) + eps);
                p[p0 + i] -= lr * (update + weightDecay * p[p0 + i]);
            }
        });
    }
}
