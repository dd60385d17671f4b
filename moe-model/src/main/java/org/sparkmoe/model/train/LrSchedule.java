package org.sparkmoe.model.train;

/** The learning rate of optimiser step {@code step} (0-based) under a {@link TrainConfig}. */
public final class LrSchedule {

    /** The paper's decay factor ("×0.316", ≈ 1/√10). */
    public static final double STEP_DECAY_FACTOR = 0.316;

    private LrSchedule() {
    }

    public static double at(TrainConfig c, long step) {
        if (step < c.warmupSteps()) {
            return c.maxLr() * (step + 1) / c.warmupSteps();
        }
        return switch (c.schedule()) {
            case CONSTANT -> c.maxLr();
            case STEP_DECAY -> {
                double lr = c.maxLr();
                if (step >= 0.8 * c.totalSteps()) {
                    lr *= STEP_DECAY_FACTOR;
                }
                if (step >= 0.9 * c.totalSteps()) {
                    lr *= STEP_DECAY_FACTOR;
                }
                yield lr;
            }
            case COSINE -> {
                double span = Math.max(1, c.totalSteps() - c.warmupSteps());
                double progress = Math.min(1.0, (step - c.warmupSteps()) / span);
                double min = c.minLrRatio() * c.maxLr();
                yield min + 0.5 * (c.maxLr() - min) * (1 + Math.cos(Math.PI * progress));
            }
        };
    }
}
