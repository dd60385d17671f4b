package org.sparkmoe.model.backend;

/**
 * How the layers of one model write their parameters' gradients: added into the gradient arena, or written over
 * it, as the first backward of a training step does, so that the arena needs no zeroing pass and the weight-gradient
 * products read no old values. Every layer of a model holds the same instance; the engine says which before each
 * backward, the layers ask while they write. A gradient that is a sum over scattered rows (the embedding's) or over
 * chunks (the norms') is zeroed by its layer first when the backward overwrites.
 */
public final class GradientWrites {

    private boolean overwrite;

    /** Whether the backward in progress adds into the arena (the default) rather than writing over it. */
    public boolean accumulate() {
        return !overwrite;
    }

    /** The coming backward writes over the gradient arena (true) or adds into it (false). */
    public void overwrite(boolean overwrite) {
        this.overwrite = overwrite;
    }
}
