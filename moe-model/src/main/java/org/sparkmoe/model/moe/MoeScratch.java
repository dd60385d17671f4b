package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * Backward-only buffers of the routed experts and the router, shared by every MoE layer. Legend: S = R·K slots,
 * D width, I expert width, E routed experts.
 */
public record MoeScratch(Tensor dYs_SD, Tensor dHs_SI, Tensor dGs_SI, Tensor dUs_SI, Tensor dXs_SD,
                         Tensor dWeight_RK, Tensor dProbs_RE, Tensor dLogits_RE) {

    public static MoeScratch allocate(Backend backend, int maxRows, int k, int dim, int width, int experts) {
        long slots = (long) maxRows * k;
        long re = (long) maxRows * experts;
        return new MoeScratch(backend.allocate("moe dys", DType.F32, slots * dim),
                backend.allocate("moe dhs", DType.F32, slots * width),
                backend.allocate("moe dgs", DType.F32, slots * width),
                backend.allocate("moe dus", DType.F32, slots * width),
                backend.allocate("moe dxs", DType.F32, slots * dim),
                backend.allocate("moe dweight", DType.F32, slots),
                backend.allocate("router dprobs", DType.F32, re),
                backend.allocate("router dlogits", DType.F32, re));
    }
}
