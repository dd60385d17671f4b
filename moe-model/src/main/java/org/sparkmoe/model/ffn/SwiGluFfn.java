package org.sparkmoe.model.ffn;

import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GradientWrites;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.Tensor;

/**
 * SwiGLU feed-forward {@code down(silu(gate x) · up x)} without biases: the dense MLP and the fused shared experts.
 * Keeps g and u for backward.
 *
 * <p>h = SwiGLU(g, u) is kept by no layer: forward needs it only between the SwiGLU and the down projection, backward
 * only for the down projection's weight gradient, so the SwiGLU's backward writes it again (the same bits) in the
 * same pass over g and u that gives dG and dU, into a buffer every layer of a training model shares
 * ({@link FfnScratch#h_RI()}). h, dG and dU are read only by products, so they are produced for them
 * ({@link Backend#produceOperands}: on a GPU written in bf16 alone). The routed experts do the same
 * ({@code GroupedExperts}).
 *
 * <p>Legend: x, out {@code [R, D]}; gate_ID, up_ID, down_DI as {@code [out, in]}; g, u, h {@code [R, I]}.
 */
public final class SwiGluFfn {

    private final Backend backend;
    private final Tensor gate_ID;
    private final Tensor up_ID;
    private final Tensor down_DI;
    private final Tensor dGate_ID;
    private final Tensor dUp_ID;
    private final Tensor dDown_DI;
    private final GradientWrites gradientWrites;
    private final int dim;
    private final int width;
    private final Tensor g_RI;
    private final Tensor u_RI;
    private final Tensor h_RI;
    private final Tensor dH_RI;
    private final Tensor dG_RI;
    private final Tensor dU_RI;

    /** {@code grads}, {@code gradientWrites} and {@code scratch} are null in a model without gradients (inference). */
    public SwiGluFfn(Backend backend, Activations activations, Tensor[] weights, Tensor[] grads,
                     GradientWrites gradientWrites, int dim, int width, int maxRows, FfnScratch scratch) {
        this.backend = backend;
        this.gradientWrites = gradientWrites;
        this.gate_ID = weights[0];
        this.up_ID = weights[1];
        this.down_DI = weights[2];
        this.dGate_ID = grads == null ? null : grads[0];
        this.dUp_ID = grads == null ? null : grads[1];
        this.dDown_DI = grads == null ? null : grads[2];
        this.dim = dim;
        this.width = width;
        long n = (long) maxRows * width;
        this.g_RI = activations.layer("ffn g", DType.F32, n);
        this.u_RI = activations.layer("ffn u", DType.F32, n);
        this.h_RI = scratch == null ? activations.layer("ffn h", DType.F32, n) : scratch.h_RI();
        this.dH_RI = scratch == null ? null : scratch.dH_RI();
        this.dG_RI = scratch == null ? null : scratch.dG_RI();
        this.dU_RI = scratch == null ? null : scratch.dU_RI();
    }

    /** {@code out (+)= ffn(x)}. */
    public void forward(Tensor x_RD, Tensor out_RD, int rows, boolean accumulate) {
        try (HeldOperands _ = backend.holdOperands(x_RD)) {
            backend.matmulNT(rows, width, dim, x_RD, gate_ID, g_RI, false);
            backend.matmulNT(rows, width, dim, x_RD, up_ID, u_RI, false);
        }
        try (HeldOperands _ = backend.produceOperands(h_RI)) {
            backend.swigluForward(g_RI, u_RI, h_RI, (long) rows * width);
            backend.matmulNT(rows, dim, width, h_RI, down_DI, out_RD, accumulate);
        }
    }

    /** Writes weight gradients as {@link GradientWrites} says; {@code dx (+)= ∂/∂x}. */
    public void backward(Tensor dOut_RD, Tensor x_RD, Tensor dx_RD, int rows, boolean accumulate) {
        long n = (long) rows * width;
        boolean addGrads = gradientWrites.accumulate();
        try (HeldOperands _ = backend.produceOperands(h_RI, dG_RI, dU_RI)) {
            try (HeldOperands _ = backend.holdOperands(dOut_RD)) {
                backend.matmulNN(rows, width, dim, dOut_RD, down_DI, dH_RI, false);
                backend.swigluBackward(dH_RI, g_RI, u_RI, h_RI, dG_RI, dU_RI, n);
                backend.matmulTN(dim, width, rows, dOut_RD, h_RI, dDown_DI, addGrads);
            }
            try (HeldOperands _ = backend.holdOperands(x_RD)) {
                backend.matmulTN(width, dim, rows, dG_RI, x_RD, dGate_ID, addGrads);
                backend.matmulTN(width, dim, rows, dU_RI, x_RD, dUp_ID, addGrads);
                backend.matmulNN(rows, dim, width, dG_RI, gate_ID, dx_RD, accumulate);
                backend.matmulNN(rows, dim, width, dU_RI, up_ID, dx_RD, true);
            }
        }
    }
}
