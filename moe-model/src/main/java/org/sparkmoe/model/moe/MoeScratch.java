package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GrowingTensor;
import org.sparkmoe.model.backend.Tensor;

/**
 * Buffers of the routed experts and the router that every MoE layer of a training model shares: the backward's, and
 * {@code hs_NI}, which holds the experts' h = SwiGLU(g, u) wherever it is needed (in forward between the SwiGLU and
 * the down projection; in backward recomputed, then overwritten by its gradient dH: {@link GroupedExperts}). Legend:
 * S = R·K slots, N rows the engine's experts compute (S without expert parallelism; what the routing sends the rank
 * with it, so those buffers grow with it), D width, I expert width, E routed experts.
 */
public record MoeScratch(Tensor dYs_SD, GrowingTensor hs_NI, GrowingTensor dGs_NI, GrowingTensor dUs_NI,
                         Tensor dXs_SD, Tensor dWeight_RK, Tensor dLogits_RE) {

    /**
     * The buffers for micro-batches of {@code maxRows} tokens whose experts compute up to {@code expertRows} rows
     * (S of them at first).
     */
    public static MoeScratch allocate(Backend backend, int maxRows, int k, int dim, int width, int experts,
                                      long expertRows) {
        long slots = (long) maxRows * k;
        long re = (long) maxRows * experts;
        return new MoeScratch(backend.allocate("moe dys", DType.F32, slots * dim),
                new GrowingTensor(backend, "moe hs", DType.F32, width, slots, expertRows),
                new GrowingTensor(backend, "moe dgs", DType.F32, width, slots, expertRows),
                new GrowingTensor(backend, "moe dus", DType.F32, width, slots, expertRows),
                backend.allocate("moe dxs", DType.F32, slots * dim),
                backend.allocate("moe dweight", DType.F32, slots),
                backend.allocate("router dlogits", DType.F32, re));
    }
}
