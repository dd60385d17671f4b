package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * Fused softmax cross-entropy forward and backward on the CPU, one row per task.
 *
 * <p>Legend: logits, dLogits {@code [R, V]} (may alias); targets (int32), losses {@code [R]}.
 */
final class CpuCrossEntropy {

    private CpuCrossEntropy() {
    }

    static void apply(MemorySegment logits, MemorySegment targets, MemorySegment losses, MemorySegment dLogits,
                      int rows, int vocab, float gradScale, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            long row = (long) r * vocab;
            int target = targets.getAtIndex(JAVA_INT, r);
            if (target < 0) {
                losses.setAtIndex(JAVA_FLOAT, r, 0f);
                dLogits.asSlice(4 * row, 4L * vocab).fill((byte) 0);
                return;
            }
            if (target >= vocab) {
                throw new IllegalArgumentException("target token id " + target + " at row " + r
                        + " is outside the vocabulary of " + vocab);
            }
            float max = Float.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, logits.getAtIndex(JAVA_FLOAT, row + v));
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                sum += Math.exp(logits.getAtIndex(JAVA_FLOAT, row + v) - max);
            }
            double lse = max + Math.log(sum);
            losses.setAtIndex(JAVA_FLOAT, r, (float) (lse - logits.getAtIndex(JAVA_FLOAT, row + target)));
            for (int v = 0; v < vocab; v++) {
                float p = (float) Math.exp(logits.getAtIndex(JAVA_FLOAT, row + v) - lse);
                dLogits.setAtIndex(JAVA_FLOAT, row + v, gradScale * (v == target ? p - 1f : p));
            }
        });
    }
}
