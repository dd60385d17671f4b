package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * Backward-only buffers of the routed experts and the router, shared by every MoE layer. Legend: S = R·K slots,
 * N rows the engine's experts compute (S without expert parallelism; what the rank can receive with it), D width,
 * I expert width, E routed experts.
 */
public record MoeScratch(Tensor dYs_SD, Tensor dHs_NI, Tensor dGs_NI, Tensor dUs_NI, Tensor dXs_SD,
                         Tensor dWeight_RK, Tensor dProbs_RE, Tensor dLogits_RE) {

    /** The buffers for micro-batches of {@code maxRows} tokens whose experts compute up to {@code expertRows} rows. */
    public static MoeScratch allocate(Backend backend, int maxRows, int k, int dim, int width, int experts,
                                      long expertRows) {
        long slots = (long) maxRows * k;
        long re = (long) maxRows * experts;
        return new MoeScratch(backend.allocate("moe dys", DType.F32, slots * dim),
                backend.allocate("moe dhs", DType.F32, expertRows * width),
                backend.allocate("moe dgs", DType.F32, expertRows * width),
                backend.allocate("moe dus", DType.F32, expertRows * width),
                backend.allocate("moe dxs", DType.F32, slots * dim),
                backend.allocate("moe dweight", DType.F32, slots),
                backend.allocate("router dprobs", DType.F32, re),
                backend.allocate("router dlogits", DType.F32, re));
    }
}
