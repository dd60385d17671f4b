package org.sparkmoe.model.moe;

import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.Routing;

/**
 * An evaluation-only change to how every MoE layer routes, for the paper's expert-specialisation analyses
 * (paper §4.5): for each token, disable its top {@code round(disabledTopShare · E)} routed experts by routing
 * probability and take the top {@code activatedExperts} of the rest (Fig. 4: "mask a certain ratio of experts with the
 * highest routing probability, and then select top-K experts from the remaining routed experts"); activate fewer
 * routed experts (Fig. 5); leave out the shared experts (§4.5: without the shared expert and with one more routed
 * expert). Gate weights stay the token's softmax probabilities over all routed experts, as in the trained forward
 * (renormalised over the chosen experts only when the model's {@code norm_topk_prob} is set). Training never sees an
 * ablation: {@link MoeLayer} refuses a training forward while one is set. Serializable, so a Spark job can ship it.
 *
 * @param disabledTopShare share of the routed experts to disable per token, in [0, 1); rounded to whole experts
 *                         (half up), see {@link #disabledExperts(int)}
 * @param activatedExperts routed experts each token is sent to (the model's K is the trained routing)
 * @param sharedExperts    whether the shared experts contribute
 */
public record RoutingAblation(double disabledTopShare, int activatedExperts, boolean sharedExperts)
        implements java.io.Serializable {

    public RoutingAblation {
        if (!(disabledTopShare >= 0 && disabledTopShare < 1)) {
            throw new IllegalArgumentException("share of top routed experts to disable must be in [0, 1), got "
                    + disabledTopShare);
        }
        if (activatedExperts < 1) {
            throw new IllegalArgumentException("routed experts to activate must be at least 1, got "
                    + activatedExperts);
        }
    }

    /** The trained routing expressed as an ablation: nothing disabled, the model's K, shared experts on. */
    public static RoutingAblation baseline(ModelConfig config) {
        return new RoutingAblation(0, config.numExpertsPerTok(), true);
    }

    /** A copy that activates {@code experts} routed experts. */
    public RoutingAblation withActivatedExperts(int experts) {
        return new RoutingAblation(disabledTopShare, experts, sharedExperts);
    }

    /** A copy with the shared experts switched on or off. */
    public RoutingAblation withSharedExperts(boolean on) {
        return new RoutingAblation(disabledTopShare, activatedExperts, on);
    }

    /** A copy that disables the top {@code share} of the routed experts. */
    public RoutingAblation withDisabledTopShare(double share) {
        return new RoutingAblation(share, activatedExperts, sharedExperts);
    }

    /** How many of {@code routedExperts} experts are disabled per token: {@code round(share · E)}, half up. */
    public int disabledExperts(int routedExperts) {
        return (int) Math.round(disabledTopShare * routedExperts);
    }

    /** Refuses an ablation the model cannot run, naming what does not fit. */
    public void checkFits(ModelConfig config) {
        if (config.moeLayerCount() == 0) {
            throw new IllegalArgumentException("model " + config.name() + " has no MoE layers: a routing ablation"
                    + " needs at least one");
        }
        int experts = config.nRoutedExperts();
        int disabled = disabledExperts(experts);
        if (config.routing() == Routing.HASH && (disabled != 0 || activatedExperts != 1)) {
            throw new IllegalArgumentException("model " + config.name() + " uses hash routing (one expert by token"
                    + " id, no probabilities): only the shared-expert switch applies, not " + this);
        }
        if (disabled + activatedExperts > experts) {
            throw new IllegalArgumentException("model " + config.name() + ": disabling the top " + disabled + " of "
                    + experts + " routed experts leaves " + (experts - disabled) + ", fewer than the "
                    + activatedExperts + " to activate");
        }
        if (!sharedExperts && config.nSharedExperts() == 0) {
            throw new IllegalArgumentException("model " + config.name() + " has no shared experts to disable");
        }
    }
}
