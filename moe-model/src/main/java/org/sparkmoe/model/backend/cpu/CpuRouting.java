package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * The MoE data path on the CPU: router softmax and greedy top-K, hash routing, dispatch to the expert-major slab
 * and the fp32 gate-weighted combine (the sort by expert is {@link org.sparkmoe.model.backend.ExpertSlots}). Every
 * scatter is written per token in a fixed k order, so results do not depend on thread scheduling.
 *
 * <p>Legend: R tokens, E routed experts, K experts per token, S = R·K slots, D width. probs/logits {@code [R, E]};
 * idx (int32), slot (int32), weight {@code [R, K]}; x, out {@code [R, D]}; slab, y {@code [S, D]}.
 */
final class CpuRouting {

    private CpuRouting() {
    }

    private static float f(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_FLOAT, i);
    }

    private static void setF(MemorySegment s, long i, float v) {
        s.setAtIndex(JAVA_FLOAT, i, v);
    }

    private static int i(MemorySegment s, long i) {
        return s.getAtIndex(JAVA_INT, i);
    }

    static void softmaxRows(MemorySegment logits, MemorySegment probs, int rows, int cols, CpuPool pool) {
        pool.parallelFor(rows, r -> softmaxRow(logits, probs, r, cols));
    }

    private static void softmaxRow(MemorySegment logits, MemorySegment probs, int r, int cols) {
        long row = (long) r * cols;
        float max = Float.NEGATIVE_INFINITY;
        for (int c = 0; c < cols; c++) {
            max = Math.max(max, f(logits, row + c));
        }
        double sum = 0;
        for (int c = 0; c < cols; c++) {
            sum += Math.exp(f(logits, row + c) - max);
        }
        double lse = max + Math.log(sum);
        for (int c = 0; c < cols; c++) {
            setF(probs, row + c, (float) Math.exp(f(logits, row + c) - lse));
        }
    }

    static void softmaxRowsBackward(MemorySegment probs, MemorySegment dProbs, MemorySegment dLogits, int rows,
                                    int cols, CpuPool pool) {
        pool.parallelFor(rows, r -> softmaxBackwardRow(probs, dProbs, dLogits, r, cols));
    }

    /** dLogits = p ⊙ (dp − Σ p·dp) for row r; dLogits may be dProbs itself (each element is read before written). */
    private static void softmaxBackwardRow(MemorySegment probs, MemorySegment dProbs, MemorySegment dLogits, int r,
                                           int cols) {
        long row = (long) r * cols;
        double dot = 0;
        for (int c = 0; c < cols; c++) {
            dot += f(probs, row + c) * f(dProbs, row + c);
        }
        for (int c = 0; c < cols; c++) {
            setF(dLogits, row + c, f(probs, row + c) * (float) (f(dProbs, row + c) - dot));
        }
    }

    static void topK(MemorySegment probs, MemorySegment idx, MemorySegment weight, int rows, int experts, int k,
                     boolean normalize, CpuPool pool) {
        pool.parallelFor(rows, r -> topKRow(probs, idx, weight, r, experts, k, normalize));
    }

    private static void topKRow(MemorySegment probs, MemorySegment idx, MemorySegment weight, int r, int experts,
                                int k, boolean normalize) {
        long row = (long) r * experts;
        long out = (long) r * k;
        double sum = 0;
        for (int j = 0; j < k; j++) {
            int best = -1;
            float bestP = Float.NEGATIVE_INFINITY;
            for (int e = 0; e < experts; e++) {
                float p = f(probs, row + e);
                if (p > bestP && !chosen(idx, out, j, e)) {
                    best = e;
                    bestP = p;
                }
            }
            idx.setAtIndex(JAVA_INT, out + j, best);
            setF(weight, out + j, bestP);
            sum += bestP;
        }
        if (normalize) {
            float inv = (float) (1.0 / (sum + 1e-20));
            for (int j = 0; j < k; j++) {
                setF(weight, out + j, f(weight, out + j) * inv);
            }
        }
    }

    private static boolean chosen(MemorySegment idx, long rowStart, int count, int expert) {
        for (int j = 0; j < count; j++) {
            if (i(idx, rowStart + j) == expert) {
                return true;
            }
        }
        return false;
    }

    /**
     * The router's forward: per row the softmax and the top-K in one pass (each row's probabilities are still in
     * cache when its top-K reads them), then the mean entropy as {@link #meanEntropy} (one sequential fp64 sum, so
     * the value is that of the ops apart). Returns the mean entropy.
     */
    static float route(MemorySegment logits, MemorySegment probs, MemorySegment idx, MemorySegment weight, int rows,
                       int experts, int k, boolean normalize, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            softmaxRow(logits, probs, r, experts);
            topKRow(probs, idx, weight, r, experts, k, normalize);
        });
        return meanEntropy(probs, rows, experts);
    }

    static void topKBackward(MemorySegment probs, MemorySegment idx, MemorySegment weight, MemorySegment dWeight,
                             MemorySegment dProbs, int rows, int experts, int k, boolean normalize, CpuPool pool) {
        pool.parallelFor(rows, r -> topKBackwardRow(probs, idx, weight, dWeight, dProbs, r, experts, k, normalize));
    }

    /** dProbs = 0 except at the chosen experts; with renormalisation w_j = p_j/S: dp_j = (dw_j − Σ dw_i w_i)/S. */
    private static void topKBackwardRow(MemorySegment probs, MemorySegment idx, MemorySegment weight,
                                        MemorySegment dWeight, MemorySegment dProbs, int r, int experts, int k,
                                        boolean normalize) {
        long row = (long) r * experts;
        long rk = (long) r * k;
        dProbs.asSlice(4 * row, 4L * experts).fill((byte) 0);
        if (!normalize) {
            for (int j = 0; j < k; j++) {
                setF(dProbs, row + i(idx, rk + j), f(dWeight, rk + j));
            }
            return;
        }
        double s = 0;
        double dot = 0;
        for (int j = 0; j < k; j++) {
            s += f(probs, row + i(idx, rk + j));
            dot += f(dWeight, rk + j) * f(weight, rk + j);
        }
        s += 1e-20;
        for (int j = 0; j < k; j++) {
            setF(dProbs, row + i(idx, rk + j), (float) ((f(dWeight, rk + j) - dot) / s));
        }
    }

    /**
     * The router's backward, row by row in one pass after the balance losses' statistics: the top-K backward, the
     * balance coefficient of the row's group added, and the softmax backward, all in the row of {@code dLogits} (no
     * dProbs buffer). The same float operations in the same order as {@link #topKBackward}, {@link CpuBalanceLoss#apply}
     * and {@link #softmaxRowsBackward}. Returns {expert loss, device loss}.
     */
    static float[] routerBackward(MemorySegment probs, MemorySegment idx, MemorySegment weight,
                                  MemorySegment dWeight, MemorySegment dLogits, int batch, int seqLen, int experts,
                                  int k, boolean normalize, boolean seqAux, float alphaExpert, int deviceGroups,
                                  float alphaDevice, CpuPool pool) {
        CpuBalanceLoss.Result balance = CpuBalanceLoss.compute(probs, idx, batch, seqLen, experts, k, seqAux,
                alphaExpert, deviceGroups, alphaDevice);
        int tokensPerGroup = seqAux ? seqLen : batch * seqLen;
        pool.parallelFor(batch * seqLen, r -> {
            topKBackwardRow(probs, idx, weight, dWeight, dLogits, r, experts, k, normalize);
            long row = (long) r * experts;
            int group = r / tokensPerGroup;
            for (int e = 0; e < experts; e++) {
                setF(dLogits, row + e, f(dLogits, row + e) + balance.coefficient(group, e));
            }
            softmaxBackwardRow(probs, dLogits, dLogits, r, experts);
        });
        return new float[] {balance.expertLoss(), balance.deviceLoss()};
    }

    /** Hash Layer routing: murmur3's 32-bit finaliser of the token id, modulo the expert count. */
    static void hashRoute(MemorySegment tokens, MemorySegment idx, MemorySegment weight, int rows, int experts) {
        for (int r = 0; r < rows; r++) {
            int h = i(tokens, r);
            h ^= h >>> 16;
            h *= 0x85ebca6b;
            h ^= h >>> 13;
            h *= 0xc2b2ae35;
            h ^= h >>> 16;
            idx.setAtIndex(JAVA_INT, r, Integer.remainderUnsigned(h, experts));
            setF(weight, r, 1f);
        }
    }

    static void dispatch(MemorySegment x, MemorySegment slot, MemorySegment slab, int rows, int k, int dim,
                         CpuPool pool) {
        long rowBytes = 4L * dim;
        pool.parallelFor(rows, r -> {
            for (int j = 0; j < k; j++) {
                MemorySegment.copy(x, r * rowBytes, slab, i(slot, (long) r * k + j) * rowBytes, rowBytes);
            }
        });
    }

    /** Without {@code accumulate} the sum starts from zero instead of dx (the same bits as zeroing dx first). */
    static void dispatchBackward(MemorySegment dSlab, MemorySegment slot, MemorySegment dx, int rows, int k, int dim,
                                 boolean accumulate, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            long out = (long) r * dim;
            if (!accumulate) {
                dx.asSlice(4 * out, 4L * dim).fill((byte) 0);
            }
            for (int j = 0; j < k; j++) {
                long src = (long) i(slot, (long) r * k + j) * dim;
                for (int d = 0; d < dim; d++) {
                    setF(dx, out + d, f(dx, out + d) + f(dSlab, src + d));
                }
            }
        });
    }

    /** Without {@code accumulate} the sum starts from zero instead of out (the same bits as zeroing out first). */
    static void combine(MemorySegment y, MemorySegment slot, MemorySegment weight, MemorySegment out, int rows, int k,
                        int dim, boolean accumulate, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            long dst = (long) r * dim;
            if (!accumulate) {
                out.asSlice(4 * dst, 4L * dim).fill((byte) 0);
            }
            for (int j = 0; j < k; j++) {
                float w = f(weight, (long) r * k + j);
                long src = (long) i(slot, (long) r * k + j) * dim;
                for (int d = 0; d < dim; d++) {
                    setF(out, dst + d, f(out, dst + d) + w * f(y, src + d));
                }
            }
        });
    }

    static void combineBackward(MemorySegment dOut, MemorySegment y, MemorySegment slot, MemorySegment weight,
                                MemorySegment dY, MemorySegment dWeight, int rows, int k, int dim, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            long g = (long) r * dim;
            for (int j = 0; j < k; j++) {
                float w = f(weight, (long) r * k + j);
                long s = (long) i(slot, (long) r * k + j) * dim;
                float dot = 0f;
                for (int d = 0; d < dim; d++) {
                    float go = f(dOut, g + d);
                    setF(dY, s + d, w * go);
                    dot += go * f(y, s + d);
                }
                setF(dWeight, (long) r * k + j, dot);
            }
        });
    }

    static float meanEntropy(MemorySegment probs, int rows, int experts) {
        double total = 0;
        for (int r = 0; r < rows; r++) {
            for (int e = 0; e < experts; e++) {
                float p = f(probs, (long) r * experts + e);
                if (p > 0) {
                    total -= p * Math.log(p);
                }
            }
        }
        return (float) (total / rows);
    }
}
