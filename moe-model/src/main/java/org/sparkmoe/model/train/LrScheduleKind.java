package org.sparkmoe.model.train;

/** Learning-rate schedule after the linear warmup. */
public enum LrScheduleKind {
    /** The paper's: max LR until 80% of the steps, ×0.316 until 90%, ×0.316 again after. */
    STEP_DECAY,
    /** Cosine from max LR to {@code minLrRatio · max} at the last step. */
    COSINE,
    /** Max LR (the 145B run: warmup then constant). */
    CONSTANT;

    /** Parses {@code step-decay}, {@code cosine}, {@code constant}. */
    public static LrScheduleKind parse(String text) {
        return switch (text.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "step-decay" -> STEP_DECAY;
            case "cosine" -> COSINE;
            case "constant" -> CONSTANT;
            default -> throw new IllegalArgumentException("lr-schedule '" + text
                    + "' is not known: use step-decay, cosine or constant");
        };
    }
}
