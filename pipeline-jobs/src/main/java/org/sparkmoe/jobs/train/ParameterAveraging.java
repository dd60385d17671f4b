package org.sparkmoe.jobs.train;

/**
 * Plain parameter averaging, as Deeplearning4j's ParameterAveragingTrainingMaster did (outer SGD with learning
 * rate 1): the new global parameters are the workers' mean. Copying the mean (rather than subtracting the outer
 * gradient) keeps W = 1 bit-identical to the engine's own loop.
 */
public final class ParameterAveraging implements OuterOptimizer {

    @Override
    public void apply(float[] params_P, float[] meanWorkerParams_P) {
        System.arraycopy(meanWorkerParams_P, 0, params_P, 0, params_P.length);
    }

    @Override
    public float[] state() {
        return new float[0];
    }

    @Override
    public void restore(float[] state) {
        if (state.length != 0) {
            throw new IllegalArgumentException("plain averaging has no state, but the checkpoint holds " + state.length
                    + " outer-optimiser values: it was written by a diloco run; resume with outer-optimizer=diloco");
        }
    }

    @Override
    public String name() {
        return "average";
    }
}
