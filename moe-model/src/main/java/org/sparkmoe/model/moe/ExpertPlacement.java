package org.sparkmoe.model.moe;

import org.sparkmoe.model.config.ModelConfig;

/**
 * Which routed experts a rank of an expert-parallel group holds: the E routed experts of every MoE layer split over
 * D ranks in contiguous blocks of E/D, rank d holding experts {@code [d·E/D, (d+1)·E/D)} (docs/expert-parallel.md).
 * The blocks are also the device-level balance loss's groups (paper §3.3, eqs. 15–17: group d = the experts device d
 * computes), so with expert parallelism {@code device_groups} is the placement, not a free number.
 *
 * @param rank    this rank, in {@code [0, ranks)}
 * @param ranks   D, the ranks the experts are spread over
 * @param experts E, the routed experts per MoE layer
 */
public record ExpertPlacement(int rank, int ranks, int experts) {

    public ExpertPlacement {
        if (ranks < 1 || rank < 0 || rank >= ranks) {
            throw new IllegalArgumentException("expert-parallel rank " + rank + " of " + ranks
                    + ": need 0 <= rank < ranks");
        }
        if (experts < 1 || experts % ranks != 0) {
            throw new IllegalArgumentException("n_routed_experts=" + experts + " cannot be split over " + ranks
                    + " expert-parallel ranks: it must be a positive multiple of the rank count");
        }
    }

    /**
     * The placement of rank {@code rank} of {@code ranks} for {@code config}, refusing what cannot be placed: a model
     * without MoE layers, {@code device_groups} other than D (the device-level loss must balance the devices that
     * exist; the config already requires it to divide E).
     */
    public static ExpertPlacement of(ModelConfig config, int rank, int ranks) {
        if (config.moeLayerCount() == 0) {
            throw new IllegalArgumentException("model " + config.name() + " has no MoE layers: expert parallelism"
                    + " needs routed experts to spread; train it data-parallel");
        }
        if (config.deviceGroups() != ranks) {
            throw new IllegalArgumentException("model " + config.name() + " has device_groups="
                    + config.deviceGroups() + " but runs expert-parallel over " + ranks + " ranks: the device-level"
                    + " balance loss balances the ranks' expert blocks, so set device_groups=" + ranks
                    + " (device_loss_alpha=" + config.deviceLossAlpha() + " weighs it)");
        }
        return new ExpertPlacement(rank, ranks, config.nRoutedExperts());
    }

    /** Every expert on one rank: the model without expert parallelism. */
    public static ExpertPlacement whole(int experts) {
        return new ExpertPlacement(0, 1, experts);
    }

    /** E/D, the experts each rank holds. */
    public int localExperts() {
        return experts / ranks;
    }

    /** The first expert rank {@code r} holds. */
    public int firstExpert(int r) {
        return r * localExperts();
    }

    /** The first expert this rank holds. */
    public int firstExpert() {
        return firstExpert(rank);
    }

    /** The rank holding expert {@code expert}. */
    public int owner(int expert) {
        return expert / localExperts();
    }

    /** Whether this rank holds expert {@code expert}. */
    public boolean holds(int expert) {
        return owner(expert) == rank;
    }

    /** Rank {@code r}'s placement in the same group. */
    public ExpertPlacement ofRank(int r) {
        return new ExpertPlacement(r, ranks, experts);
    }

    /**
     * The most rows this rank's experts can receive from a micro-batch of {@code maxRows} tokens per rank with K
     * experts per token: every rank sends each token to at most {@code min(K, E/D)} of this rank's experts, and no
     * token is dropped.
     */
    public long maxReceivedRows(int maxRows, int k) {
        return (long) ranks * maxRows * Math.min(k, localExperts());
    }
}
