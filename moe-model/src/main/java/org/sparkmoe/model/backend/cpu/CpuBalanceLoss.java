package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * Expert- and device-level balance losses (DeepSeekMoE §3.3, eqs. 12–17) on the CPU.
 *
 * <p>Per group of tokens (one sequence when per-sequence, the whole batch otherwise) of T tokens:
 * {@code f_i = E/(K·T) · count_i} (no gradient), {@code P_i = mean_t p_{t,i}}, expert loss {@code α1 Σ_i f_i P_i};
 * device groups of E/D experts: {@code f'_d = mean f_i}, {@code P'_d = Σ P_i}, device loss {@code α2 Σ_d f'_d P'_d}.
 * Losses are averaged over the groups; the gradient w.r.t. {@code p_{t,i}} is {@code (α1 f_i + α2 f'_{d(i)})/(T·G)}.
 *
 * <p>Legend: probs, dProbs {@code [R, E]}; idx (int32) {@code [R, K]}.
 */
final class CpuBalanceLoss {

    private CpuBalanceLoss() {
    }

    /**
     * The two losses and the gradient: {@code coefficient(g, e)} is ∂loss/∂p_{t,e} for every token t of group g
     * (one float per group and expert, as added to a gradient).
     */
    record Result(float expertLoss, float deviceLoss, int experts, float[] coefficients_GE) {
        float coefficient(int group, int expert) {
            return coefficients_GE[group * experts + expert];
        }
    }

    /** Returns {expert loss, device loss}; adds the gradient into dProbs. */
    static float[] apply(MemorySegment probs, MemorySegment idx, MemorySegment dProbs, int batch, int seqLen,
                         int experts, int k, boolean perSequence, float alphaExpert, int deviceGroups,
                         float alphaDevice) {
        Result result = compute(probs, idx, batch, seqLen, experts, k, perSequence, alphaExpert, deviceGroups,
                alphaDevice);
        int tokens = perSequence ? seqLen : batch * seqLen;
        for (int r = 0; r < batch * seqLen; r++) {
            long row = (long) r * experts;
            for (int e = 0; e < experts; e++) {
                dProbs.setAtIndex(JAVA_FLOAT, row + e, dProbs.getAtIndex(JAVA_FLOAT, row + e)
                        + result.coefficient(r / tokens, e));
            }
        }
        return new float[] {result.expertLoss(), result.deviceLoss()};
    }

    /** The losses and their gradient's coefficients, one sequential pass over the choices and probabilities. */
    static Result compute(MemorySegment probs, MemorySegment idx, int batch, int seqLen, int experts, int k,
                          boolean perSequence, float alphaExpert, int deviceGroups, float alphaDevice) {
        int groups = perSequence ? batch : 1;
        int tokens = perSequence ? seqLen : batch * seqLen;
        int groupSize = experts / deviceGroups;
        double expertLoss = 0;
        double deviceLoss = 0;
        double[] f = new double[experts];
        double[] pMean = new double[experts];
        double[] fDevice = new double[deviceGroups];
        float[] coefficients = new float[groups * experts];
        for (int g = 0; g < groups; g++) {
            java.util.Arrays.fill(f, 0);
            java.util.Arrays.fill(pMean, 0);
            int firstRow = g * tokens;
            for (int t = 0; t < tokens; t++) {
                int r = firstRow + t;
                for (int j = 0; j < k; j++) {
                    f[idx.getAtIndex(JAVA_INT, (long) r * k + j)] += 1;
                }
                for (int e = 0; e < experts; e++) {
                    pMean[e] += probs.getAtIndex(JAVA_FLOAT, (long) r * experts + e);
                }
            }
            double fScale = (double) experts / ((double) k * tokens);
            for (int e = 0; e < experts; e++) {
                f[e] *= fScale;
                pMean[e] /= tokens;
                expertLoss += alphaExpert * f[e] * pMean[e];
            }
            for (int d = 0; d < deviceGroups; d++) {
                double fd = 0;
                double pd = 0;
                for (int e = d * groupSize; e < (d + 1) * groupSize; e++) {
                    fd += f[e];
                    pd += pMean[e];
                }
                fDevice[d] = fd / groupSize;
                deviceLoss += alphaDevice * fDevice[d] * pd;
            }
            double gradScale = 1.0 / ((double) tokens * groups);
            for (int e = 0; e < experts; e++) {
                coefficients[g * experts + e] =
                        (float) ((alphaExpert * f[e] + alphaDevice * fDevice[e / groupSize]) * gradScale);
            }
        }
        return new Result((float) (expertLoss / groups), (float) (deviceLoss / groups), experts, coefficients);
    }
}
