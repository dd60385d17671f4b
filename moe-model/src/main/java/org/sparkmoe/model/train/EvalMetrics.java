package org.sparkmoe.model.train;

/**
 * Evaluation of a batch without updating anything.
 *
 * @param loss          mean cross-entropy per target token
 * @param tokens        target tokens scored
 * @param sequenceLoss  mean cross-entropy of each sequence (NaN for a sequence with no target)
 */
public record EvalMetrics(double loss, long tokens, double[] sequenceLoss) {
}
