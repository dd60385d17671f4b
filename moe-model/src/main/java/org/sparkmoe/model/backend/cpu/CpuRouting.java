package org.sparkmoe.model.backend.cpu;

/**
 * The MoE data path on the CPU: router softmax and greedy top-K, hash routing, sort-by-expert, dispatch to the
 * expert-major slab and the fp32 gate-weighted combine. Every scatter is written per token in a fixed k order,
 * so results do not depend on thread scheduling.
 *
 * <p>Legend: R tokens, E routed experts, K experts per token, S = R·K slots, D width. probs/logits {@code [R, E]};
 * idx (int32), slot (int32), weight {@code [R, K]}; x, out {@code [R, D]}; slab, y {@code [S, D]}.
 */
final class CpuRouting {

    private CpuRouting() {
    }

    static void softmaxRows(float[] logits, int l0, float[] probs, int p0, int rows, int cols, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int row = r * cols;
            float max = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                max = Math.max(max, logits[l0 + row + c]);
            }
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                sum += Math.exp(logits[l0 + row + c] - max);
            }
            double lse = max + Math.log(sum);
            for (int c = 0; c < cols; c++) {
                probs[p0 + row + c] = (float) Math.exp(logits[l0 + row + c] - lse);
            }
        });
    }

    static void softmaxRowsBackward(float[] probs, int p0, float[] dProbs, int dp0, float[] dLogits, int dl0,
                                    int rows, int cols, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int row = r * cols;
            double dot = 0;
            for (int c = 0; c < cols; c++) {
                dot += probs[p0 + row + c] * dProbs[dp0 + row + c];
            }
            for (int c = 0; c < cols; c++) {
                dLogits[dl0 + row + c] = probs[p0 + row + c] * (float) (dProbs[dp0 + row + c] - dot);
            }
        });
    }

    static void topK(float[] probs, int p0, int[] idx, int i0, float[] weight, int w0, int rows, int experts, int k,
                     boolean normalize, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int row = r * experts;
            double sum = 0;
            for (int j = 0; j < k; j++) {
                int best = -1;
                float bestP = Float.NEGATIVE_INFINITY;
                for (int e = 0; e < experts; e++) {
                    float p = probs[p0 + row + e];
                    if (p > bestP && !chosen(idx, i0 + r * k, j, e)) {
                        best = e;
                        bestP = p;
                    }
                }
                idx[i0 + r * k + j] = best;
                weight[w0 + r * k + j] = bestP;
                sum += bestP;
            }
            if (normalize) {
                float inv = (float) (1.0 / (sum + 1e-20));
                for (int j = 0; j < k; j++) {
                    weight[w0 + r * k + j] *= inv;
                }
            }
        });
    }

    private static boolean chosen(int[] idx, int rowStart, int count, int expert) {
        for (int j = 0; j < count; j++) {
            if (idx[rowStart + j] == expert) {
                return true;
            }
        }
        return false;
    }

    /** dProbs = 0 except at the chosen experts; with renormalisation w_j = p_j/S: dp_j = (dw_j − Σ dw_i w_i)/S. */
    static void topKBackward(float[] probs, int p0, int[] idx, int i0, float[] weight, int w0, float[] dWeight,
                             int dw0, float[] dProbs, int dp0, int rows, int experts, int k, boolean normalize,
                             CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int row = r * experts;
            java.util.Arrays.fill(dProbs, dp0 + row, dp0 + row + experts, 0f);
            if (!normalize) {
                for (int j = 0; j < k; j++) {
                    dProbs[dp0 + row + idx[i0 + r * k + j]] = dWeight[dw0 + r * k + j];
                }
                return;
            }
            double s = 0;
            double dot = 0;
            for (int j = 0; j < k; j++) {
                s += probs[p0 + row + idx[i0 + r * k + j]];
                dot += dWeight[dw0 + r * k + j] * weight[w0 + r * k + j];
            }
            s += 1e-20;
            for (int j = 0; j < k; j++) {
                dProbs[dp0 + row + idx[i0 + r * k + j]] = (float) ((dWeight[dw0 + r * k + j] - dot) / s);
            }
        });
    }

    /** Hash Layer routing: murmur3's 32-bit finaliser of the token id, modulo the expert count. */
    static void hashRoute(int[] tokens, int t0, int[] idx, int i0, float[] weight, int w0, int rows, int experts) {
        for (int r = 0; r < rows; r++) {
            int h = tokens[t0 + r];
            h ^= h >>> 16;
            h *= 0x85ebca6b;
            h ^= h >>> 13;
            h *= 0xc2b2ae35;
            h ^= h >>> 16;
            idx[i0 + r] = Integer.remainderUnsigned(h, experts);
            weight[w0 + r] = 1f;
        }
    }

    /** Stable counting sort of the R·K assignments by expert; returns the counts. */
    static int[] expertCounts(int[] idx, int i0, int[] slot, int s0, int rows, int k, int experts) {
        int[] counts = new int[experts];
        int n = rows * k;
        for (int a = 0; a < n; a++) {
            int e = idx[i0 + a];
            if (e < 0 || e >= experts) {
                throw new IllegalArgumentException("expert index " + e + " at assignment " + a + " is outside [0, "
                        + experts + ")");
            }
            counts[e]++;
        }
        int[] cursor = new int[experts];
        for (int e = 1; e < experts; e++) {
            cursor[e] = cursor[e - 1] + counts[e - 1];
        }
        for (int a = 0; a < n; a++) {
            slot[s0 + a] = cursor[idx[i0 + a]]++;
        }
        return counts;
    }

    static void dispatch(float[] x, int x0, int[] slot, int s0, float[] slab, int sl0, int rows, int k, int dim,
                         CpuPool pool) {
        pool.parallelFor(rows, r -> {
            for (int j = 0; j < k; j++) {
                System.arraycopy(x, x0 + r * dim, slab, sl0 + slot[s0 + r * k + j] * dim, dim);
            }
        });
    }

    static void dispatchBackward(float[] dSlab, int ds0, int[] slot, int s0, float[] dx, int dx0, int rows, int k,
                                 int dim, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int out = dx0 + r * dim;
            for (int j = 0; j < k; j++) {
                int src = ds0 + slot[s0 + r * k + j] * dim;
                for (int d = 0; d < dim; d++) {
                    dx[out + d] += dSlab[src + d];
                }
            }
        });
    }

    static void combine(float[] y, int y0, int[] slot, int s0, float[] weight, int w0, float[] out, int o0,
                        int rows, int k, int dim, CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int dst = o0 + r * dim;
            for (int j = 0; j < k; j++) {
                float w = weight[w0 + r * k + j];
                int src = y0 + slot[s0 + r * k + j] * dim;
                for (int d = 0; d < dim; d++) {
                    out[dst + d] += w * y[src + d];
                }
            }
        });
    }

    static void combineBackward(float[] dOut, int do0, float[] y, int y0, int[] slot, int s0, float[] weight, int w0,
                                float[] dY, int dy0, float[] dWeight, int dw0, int rows, int k, int dim,
                                CpuPool pool) {
        pool.parallelFor(rows, r -> {
            int g = do0 + r * dim;
            for (int j = 0; j < k; j++) {
                float w = weight[w0 + r * k + j];
                int s = slot[s0 + r * k + j] * dim;
                float dot = 0f;
                for (int d = 0; d < dim; d++) {
                    dY[dy0 + s + d] = w * dOut[g + d];
                    dot += dOut[g + d] * y[y0 + s + d];
                }
                dWeight[dw0 + r * k + j] = dot;
            }
        });
    }

    static float meanEntropy(float[] probs, int p0, int rows, int experts) {
        double total = 0;
        for (int r = 0; r < rows; r++) {
            for (int e = 0; e < experts; e++) {
                float p = probs[p0 + r * experts + e];
                if (p > 0) {
                    total -= p * Math.log(p);
                }
            }
        }
        return (float) (total / rows);
    }
}
