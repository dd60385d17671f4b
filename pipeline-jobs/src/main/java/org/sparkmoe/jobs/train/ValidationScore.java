package org.sparkmoe.jobs.train;

import java.io.Serializable;
import java.util.List;
import java.util.Objects;

/**
 * Held-out cross-entropy of a round's parameters, in the form that adds up over the ranks that each scored a share of
 * the validation sequences: the loss summed over the scored targets, and their count.
 *
 * @param lossSum   cross-entropy summed over the scored targets (nats)
 * @param tokens    the scored targets
 * @param sequences the scored sequences
 */
public record ValidationScore(double lossSum, long tokens, long sequences) implements Serializable {

    /** Mean cross-entropy per target (NaN when nothing was scored). */
    public double loss() {
        return tokens == 0 ? Double.NaN : lossSum / tokens;
    }

    ValidationScore plus(ValidationScore other) {
        return new ValidationScore(lossSum + other.lossSum, tokens + other.tokens, sequences + other.sequences);
    }

    /** The workers' scores summed; null when none of them validated this round. */
    static ValidationScore sum(List<WorkerReport> reports) {
        return reports.stream().map(WorkerReport::validation).filter(Objects::nonNull)
                .reduce(ValidationScore::plus).orElse(null);
    }
}
