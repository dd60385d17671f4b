package org.sparkmoe.jobs.train;

/**
 * DiLoCo's outer step (Douillard et al. 2023): SGD with Nesterov momentum on the outer gradient
 * {@code g = params - mean(workerParams)}, in the form PyTorch's {@code SGD(nesterov=True)} uses:
 * {@code b = mu*b + g; params -= lr*(g + mu*b)}. The paper's defaults are lr 0.7, momentum 0.9.
 */
public final class DiLoCoOuterOptimizer implements OuterOptimizer {

    private final float learningRate;
    private final float momentum;
    private final float[] momentum_P;

    public DiLoCoOuterOptimizer(int parameterCount, float learningRate, float momentum) {
        if (!(learningRate > 0) || !(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("DiLoCo needs outer-lr > 0 and 0 <= outer-momentum < 1, got lr="
                    + learningRate + " momentum=" + momentum);
        }
        this.learningRate = learningRate;
        this.momentum = momentum;
        this.momentum_P = new float[parameterCount];
    }

    @Override
    public void apply(float[] params_P, float[] meanWorkerParams_P) {
        for (int i = 0; i < params_P.length; i++) {
            float outerGrad = params_P[i] - meanWorkerParams_P[i];
            float b = momentum * momentum_P[i] + outerGrad;
            momentum_P[i] = b;
            params_P[i] -= learningRate * (outerGrad + momentum * b);
        }
    }

    @Override
    public float[] state() {
        return momentum_P.clone();
    }

    @Override
    public void restore(float[] state) {
        if (state.length != momentum_P.length) {
            throw new IllegalArgumentException("the checkpoint's outer momentum has " + state.length + " values but the"
                    + " model has " + momentum_P.length + " parameters: the checkpoint belongs to another model config");
        }
        System.arraycopy(state, 0, momentum_P, 0, state.length);
    }

    @Override
    public String name() {
        return "diloco";
    }
}
