package org.sparkmoe.model.norm;

import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GradientWrites;
import org.sparkmoe.model.backend.Tensor;

/**
 * RMSNorm layer (eps from the config, statistics in fp32). Saves its input's reciprocal RMS for backward; the
 * input itself is kept by the caller (it is the residual stream). In a pre-norm block the residual add before the
 * norm runs in the same pass ({@link #forwardResidual}); its backward is the norm's, into the residual gradient.
 *
 * <p>Legend: x, branch, sum, y, dy, dx {@code [R, D]}; w_D, rstd_R.
 */
public final class RmsNorm {

    private final Backend backend;
    private final Tensor w_D;
    private final Tensor dw_D;
    private final GradientWrites gradientWrites;
    private final int dim;
    private final float eps;
    private final Tensor rstd_R;

    /** {@code dw_D} and {@code gradientWrites} are null in a model without gradients (inference). */
    public RmsNorm(Backend backend, Activations activations, Tensor w_D, Tensor dw_D, GradientWrites gradientWrites,
                   int dim, float eps, int maxRows) {
        this.backend = backend;
        this.w_D = w_D;
        this.dw_D = dw_D;
        this.gradientWrites = gradientWrites;
        this.dim = dim;
        this.eps = eps;
        this.rstd_R = activations.layer("rstd", DType.F32, maxRows);
    }

    /** {@code y = rmsnorm(x)}. */
    public void forward(Tensor x_RD, Tensor y_RD, int rows) {
        backend.rmsNormForward(x_RD, w_D, y_RD, rstd_R, rows, dim, eps);
    }

    /** {@code sum = x + branch}, {@code y = rmsnorm(sum)} in one pass; sum is the norm's input for {@link #backward}. */
    public void forwardResidual(Tensor x_RD, Tensor branch_RD, Tensor sum_RD, Tensor y_RD, int rows) {
        backend.rmsNormResidualForward(x_RD, branch_RD, sum_RD, w_D, y_RD, rstd_R, rows, dim, eps);
    }

    /** {@code dx += ∂/∂x}, {@code dw += ∂/∂w} (into zeros where the backward overwrites: {@link GradientWrites}). */
    public void backward(Tensor dy_RD, Tensor x_RD, Tensor dx_RD, int rows) {
        if (!gradientWrites.accumulate()) {
            backend.fill(dw_D, 0f);
        }
        backend.rmsNormBackward(dy_RD, x_RD, w_D, rstd_R, dx_RD, dw_D, rows, dim);
    }
}
