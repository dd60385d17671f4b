package org.sparkmoe.model.ffn;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * Backward-only buffers of {@link SwiGluFfn}, shared by every dense MLP and shared-expert block, each
 * {@code [R, I_max]} (the widest FFN of the model).
 */
public record FfnScratch(Tensor dG_RI, Tensor dU_RI, Tensor dH_RI) {

    public static FfnScratch allocate(Backend backend, int maxRows, int maxWidth) {
        long n = (long) maxRows * maxWidth;
        return new FfnScratch(backend.allocate("ffn dg", DType.F32, n), backend.allocate("ffn du", DType.F32, n),
                backend.allocate("ffn dh", DType.F32, n));
    }
}
