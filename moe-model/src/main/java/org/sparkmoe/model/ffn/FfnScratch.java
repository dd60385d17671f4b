package org.sparkmoe.model.ffn;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * Buffers of {@link SwiGluFfn} that every dense MLP and shared-expert block of a training model shares, each
 * {@code [R, I_max]} (the widest FFN of the model): {@code h_RI}, which holds h = SwiGLU(g, u) wherever it is needed
 * (in forward between the SwiGLU and the down projection; in backward written again for the down projection's
 * weight gradient), and the backward's dH, dG and dU. h, dG and dU are only produced for products
 * ({@link Backend#allocateOperand}); dH is fp32, the SwiGLU's backward reads it.
 */
public record FfnScratch(Tensor dG_RI, Tensor dU_RI, Tensor h_RI, Tensor dH_RI) {

    public static FfnScratch allocate(Backend backend, int maxRows, int maxWidth) {
        long n = (long) maxRows * maxWidth;
        return new FfnScratch(backend.allocateOperand("ffn dg", n), backend.allocateOperand("ffn du", n),
                backend.allocateOperand("ffn h", n), backend.allocate("ffn dh", DType.F32, n));
    }
}
