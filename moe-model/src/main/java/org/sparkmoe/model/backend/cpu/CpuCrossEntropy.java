package org.sparkmoe.model.backend.cpu;

/**
 * Fused softmax cross-entropy forward and backward on the CPU, one row per task.
 *
 * <p>Legend: logits, dLogits {@code [R, V]} (may alias); targets (int32), losses {@code [R]}.
 */
final class CpuCrossEntropy {

    private CpuCrossEntropy() {
    }

    static void apply(float[] logits, int l0, int[] targets, int t0, float[] losses, int loss0, float[] dLogits,
                      int d0, int rows, int vocab, float gradScale, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int row = r * vocab;
            int target = targets[t0 + r];
            if (target < 0) {
                losses[loss0 + r] = 0f;
                java.util.Arrays.fill(dLogits, d0 + row, d0 + row + vocab, 0f);
                return;
            }
            if (target >= vocab) {
                throw new IllegalArgumentException("target token id " + target + " at row " + r
                        + " is outside the vocabulary of " + vocab);
            }
            float max = Float.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits[l0 + row + v]);
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                sum += Math.exp(logits[l0 + row + v] - max);
            }
            double lse = max + Math.log(sum);
            losses[loss0 + r] = (float) (lse - logits[l0 + row + target]);
            for (int v = 0; v < vocab; v++) {
                float p = (float) Math.exp(logits[l0 + row + v] - lse);
                dLogits[d0 + row + v] = gradScale * (v == target ? p - 1f : p);
            }
        });
    }
}
