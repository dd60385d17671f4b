package org.sparkmoe.jobs.train;

/**
 * The driver's update of the global parameters from the workers' mean parameters after a round (DiLoCo's "outer"
 * step). Lifecycle: built once per run, {@link #restore} after a resume, {@link #apply} once per round,
 * {@link #state} for each checkpoint.
 */
public interface OuterOptimizer {

    /**
     * Updates {@code params_P} in place from the mean of the workers' parameters after their local steps.
     * The outer gradient is {@code params_P - meanWorkerParams_P}.
     */
    void apply(float[] params_P, float[] meanWorkerParams_P);

    /** The optimiser's own state (empty when it has none), saved in checkpoints. */
    float[] state();

    /** Restores what {@link #state()} returned. */
    void restore(float[] state);

    /** The configured kind, as named in {@code outer-optimizer}. */
    String name();

    static OuterOptimizer create(String kind, int parameterCount, double learningRate, double momentum) {
        return switch (kind) {
            case "average" -> new ParameterAveraging();
            case "diloco" -> new DiLoCoOuterOptimizer(parameterCount, (float) learningRate, (float) momentum);
            default -> throw new IllegalArgumentException("unknown outer optimiser '" + kind + "': use average or diloco");
        };
    }
}
