package org.sparkmoe.model.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;

/**
 * Optimiser and schedule settings of the engine (paper §4.1, §5.1: AdamW(0.9, 0.95), weight decay 0.1, clip 1.0,
 * warmup then step decay ×0.316 at 80% and 90%). Values come from the caller's configuration (the trainer's
 * {@code conf/train.properties}, whose {@code engine.*} keys are these keys with a prefix); {@link #fromProperties}
 * is the one place the keys, named in each parameter, map to the fields. Keys follow the option convention:
 * lowercase words joined by {@code -}.
 *
 * @param maxLr          {@code lr}: peak learning rate
 * @param schedule       {@code lr-schedule}: step-decay, cosine or constant
 * @param warmupSteps    {@code warmup-steps}: linear warmup from 0 to max LR
 * @param totalSteps     {@code total-steps}: the run's optimiser steps (the decay points are fractions of it)
 * @param minLrRatio     {@code min-lr-ratio}: cosine floor as a fraction of max LR
 * @param beta1          {@code adam-beta1}
 * @param beta2          {@code adam-beta2}
 * @param eps            {@code adam-eps}
 * @param weightDecay    {@code weight-decay}: decoupled, on matrices only (never on 1-D norm weights)
 * @param gradClip       {@code grad-clip}: global gradient-norm limit (0 = off)
 * @param microBatch     {@code micro-batch}: sequences per forward/backward; gradients accumulate over them
 * @param recomputeAttention {@code recompute-attention}: backward recomputes each layer's q, k, v (projections and
 *                       RoPE, the forward's ops on the normed input the layer keeps) instead of keeping them per
 *                       layer: 3·R·D fp32 less per layer but one, for three D × D GEMMs and two RoPE passes per layer;
 *                       the same bits either way. Optional (false), so configurations written before it still load;
 *                       an inference engine has no backward and ignores it
 */
public record TrainConfig(double maxLr, LrScheduleKind schedule, int warmupSteps, int totalSteps, double minLrRatio,
                          double beta1, double beta2, double eps, double weightDecay, double gradClip,
                          int microBatch, boolean recomputeAttention) {

    /** The key of {@code totalSteps}, which a trainer computes rather than reads from its user. */
    public static final String TOTAL_STEPS = "total-steps";

    /** The key of {@code recomputeAttention}. */
    public static final String RECOMPUTE_ATTENTION = "recompute-attention";

    /** Every key {@link #fromProperties} reads. */
    public static final Set<String> KEYS = Set.of("lr", "lr-schedule", "warmup-steps", TOTAL_STEPS, "min-lr-ratio",
            "adam-beta1", "adam-beta2", "adam-eps", "weight-decay", "grad-clip", "micro-batch", RECOMPUTE_ATTENTION);

    /** A config whose engine keeps the attention's q, k, v for backward ({@code recompute-attention=false}). */
    public TrainConfig(double maxLr, LrScheduleKind schedule, int warmupSteps, int totalSteps, double minLrRatio,
                       double beta1, double beta2, double eps, double weightDecay, double gradClip, int microBatch) {
        this(maxLr, schedule, warmupSteps, totalSteps, minLrRatio, beta1, beta2, eps, weightDecay, gradClip, microBatch,
                false);
    }

    public TrainConfig {
        List<String> problems = new ArrayList<>();
        if (!(maxLr > 0)) {
            problems.add("lr=" + maxLr + " must be > 0");
        }
        if (schedule == null) {
            problems.add("lr-schedule is missing");
        }
        if (warmupSteps < 0 || totalSteps < 1) {
            problems.add("warmup-steps=" + warmupSteps + " must be >= 0 and total-steps=" + totalSteps + " >= 1");
        }
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) {
            problems.add("min-lr-ratio=" + minLrRatio + " must be in [0, 1]");
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            problems.add("adam-beta1=" + beta1 + " and adam-beta2=" + beta2 + " must be in [0, 1)");
        }
        if (!(eps > 0)) {
            problems.add("adam-eps=" + eps + " must be > 0");
        }
        if (!(weightDecay >= 0) || !(gradClip >= 0)) {
            problems.add("weight-decay=" + weightDecay + " and grad-clip=" + gradClip + " must be >= 0");
        }
        if (microBatch < 1) {
            problems.add("micro-batch=" + microBatch + " must be >= 1");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("train config is inconsistent: " + String.join("; ", problems));
        }
    }

    /**
     * Reads the keys named in the record's documentation ({@link #KEYS}); every key is required but
     * {@code recompute-attention}.
     */
    public static TrainConfig fromProperties(Properties p) {
        return new TrainConfig(d(p, "lr"), LrScheduleKind.parse(s(p, "lr-schedule")), (int) d(p, "warmup-steps"),
                (int) d(p, TOTAL_STEPS), d(p, "min-lr-ratio"), d(p, "adam-beta1"), d(p, "adam-beta2"),
                d(p, "adam-eps"), d(p, "weight-decay"), d(p, "grad-clip"), (int) d(p, "micro-batch"),
                p.getProperty(RECOMPUTE_ATTENTION) != null && b(p, RECOMPUTE_ATTENTION));
    }

    private static String s(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null) {
            throw new IllegalArgumentException("train config: key " + key + " is missing");
        }
        return v.trim();
    }

    private static double d(Properties p, String key) {
        String v = s(p, key);
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("train config: " + key + "=" + v + " is not a number");
        }
    }

    private static boolean b(Properties p, String key) {
        String v = s(p, key);
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("train config: " + key + "=" + v + " is not true or false");
        };
    }

    /**
     * A config for an engine that only evaluates (scoring, analyses): the optimiser fields are never read, only
     * {@code microBatch} (sequences per forward) matters.
     */
    public static TrainConfig forInference(int microBatch) {
        return new TrainConfig(1, LrScheduleKind.CONSTANT, 0, 1, 0, 0, 0, 1, 0, 0, microBatch);
    }

    /** A copy with another micro-batch size. */
    public TrainConfig withMicroBatch(int sequences) {
        return new TrainConfig(maxLr, schedule, warmupSteps, totalSteps, minLrRatio, beta1, beta2, eps, weightDecay,
                gradClip, sequences, recomputeAttention);
    }

    /** A copy whose engine recomputes the attention's q, k, v in backward, or keeps them. */
    public TrainConfig withRecomputeAttention(boolean recompute) {
        return new TrainConfig(maxLr, schedule, warmupSteps, totalSteps, minLrRatio, beta1, beta2, eps, weightDecay,
                gradClip, microBatch, recompute);
    }
}
