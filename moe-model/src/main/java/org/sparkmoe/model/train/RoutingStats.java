package org.sparkmoe.model.train;

/**
 * Routing statistics of one MoE layer over one optimiser step.
 *
 * @param layer             decoder layer index
 * @param tokensPerExpert   (token, expert) assignments per routed expert
 * @param coefficientOfVariation std/mean of {@code tokensPerExpert} (0 = perfectly balanced)
 * @param routerEntropy     mean over tokens of the router distribution's entropy (nats; 0 for hash routing)
 * @param expertBalanceLoss expert-level balance loss (already multiplied by alpha1)
 * @param deviceBalanceLoss device-level balance loss (already multiplied by alpha2)
 */
public record RoutingStats(int layer, long[] tokensPerExpert, double coefficientOfVariation, double routerEntropy,
                           double expertBalanceLoss, double deviceBalanceLoss) {

    static double cv(long[] counts) {
        double mean = 0;
        for (long c : counts) {
            mean += c;
        }
        mean /= counts.length;
        if (mean == 0) {
            return 0;
        }
        double var = 0;
        for (long c : counts) {
            var += (c - mean) * (c - mean);
        }
        return Math.sqrt(var / counts.length) / mean;
    }
}
