package org.sparkmoe.model.train;

import org.sparkmoe.model.backend.Tensor;

/**
 * What {@link TrainingEngine#step(int[], int, int, GradientReduction)} does with a step's accumulated gradients
 * between backward and the gradient norm: data-parallel training replaces them by their mean over the workers
 * ({@code collective::allReduceMean}), so every worker clips and applies the same update.
 */
@FunctionalInterface
public interface GradientReduction {

    /** Rewrites {@code grads_P} in place: the engine's gradient arena, flat in parameter order, on its backend. */
    void reduce(Tensor grads_P);
}
