package org.sparkmoe.model.train;

import java.util.List;

/**
 * What one optimiser step reports. The optimiser minimised {@code loss + auxLoss}; cross-entropy and each
 * auxiliary loss are reported separately.
 *
 * @param step          the optimiser step this was (0-based; a skipped step keeps the counter)
 * @param loss          mean cross-entropy per target token
 * @param expertBalanceLoss sum over MoE layers of the expert-level balance loss
 * @param deviceBalanceLoss sum over MoE layers of the device-level balance loss
 * @param gradNorm      global gradient norm before clipping
 * @param lr            learning rate applied (0 when skipped)
 * @param tokens        target tokens in the batch
 * @param skipped       true when loss or gradient was not finite and the update was not applied
 * @param skippedTotal  skipped steps since the engine was created
 * @param routing       per MoE layer statistics
 */
public record StepMetrics(long step, double loss, double expertBalanceLoss, double deviceBalanceLoss, double gradNorm,
                          double lr, long tokens, boolean skipped, long skippedTotal, List<RoutingStats> routing) {

    /** The objective the optimiser saw. */
    public double totalLoss() {
        return loss + expertBalanceLoss + deviceBalanceLoss;
    }
}
