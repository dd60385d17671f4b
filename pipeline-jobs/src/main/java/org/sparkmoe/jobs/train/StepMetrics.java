package org.sparkmoe.jobs.train;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * What one local optimiser step reports, as the trainer logs it (one JSON line per step in {@code metrics/steps.jsonl}).
 *
 * @param loss         the total loss the optimiser saw (cross-entropy plus the auxiliary losses)
 * @param auxLosses    each auxiliary loss by name (for example {@code expert_balance}, {@code device_balance})
 * @param learningRate the inner learning rate used for this step
 * @param gradNorm     the global gradient norm before clipping
 * @param tokens       tokens consumed by the step
 * @param applied      false when the engine skipped the step because its loss or gradient was not finite
 * @param experts      per MoE layer routing statistics; empty for dense models
 */
public record StepMetrics(double loss, Map<String, Double> auxLosses, double learningRate, double gradNorm,
                          long tokens, boolean applied, List<LayerRouting> experts) implements Serializable {

    public StepMetrics {
        auxLosses = Map.copyOf(auxLosses);
        experts = List.copyOf(experts);
    }

    /** True when the step's loss can be averaged into the round's figures. */
    public boolean finite() {
        return applied && Double.isFinite(loss);
    }

    /**
     * Routing statistics of one MoE layer for one step.
     *
     * @param layer            the decoder layer index
     * @param tokensPerExpert  tokens routed to each routed expert
     * @param routerEntropy    mean entropy (nats) of the router's softmax over routed experts
     */
    public record LayerRouting(int layer, long[] tokensPerExpert, double routerEntropy) implements Serializable {

        /** Coefficient of variation of the per-expert load: 0 is perfectly balanced. */
        public double loadCv() {
            int n = tokensPerExpert.length;
            if (n == 0) {
                return 0.0;
            }
            double mean = 0;
            for (long c : tokensPerExpert) {
                mean += c;
            }
            mean /= n;
            if (mean == 0) {
                return 0.0;
            }
            double var = 0;
            for (long c : tokensPerExpert) {
                var += (c - mean) * (c - mean);
            }
            return Math.sqrt(var / n) / mean;
        }
    }
}
