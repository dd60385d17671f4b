package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GrowingTensor;
import org.sparkmoe.model.backend.Tensor;

/**
 * Buffers of the routed experts and the router that every MoE layer of a training model shares: the backward's, and
 * {@code hs_NI}, which holds the experts' h = SwiGLU(g, u) wherever it is needed (in forward between the SwiGLU and
 * the down projection; in backward recomputed for the down projection's weight gradient: {@link GroupedExperts}).
 * Legend: S = R·K slots, N rows the engine's experts compute (S without expert parallelism; what the routing sends
 * the rank with it, so those buffers grow with it), D width, I expert width, E routed experts. Without expert
 * parallelism dYs, hs, dGs and dUs are only produced for the experts' products ({@link Backend#allocateOperand});
 * with it dYs goes through the exchange in fp32 and hs, dGs, dUs grow. dHs, the down projection's input gradient, is
 * fp32: the SwiGLU's backward reads it.
 */
public record MoeScratch(Tensor dYs_SD, GrowingTensor hs_NI, GrowingTensor dHs_NI, GrowingTensor dGs_NI,
                         GrowingTensor dUs_NI, Tensor dXs_SD, Tensor dWeight_RK, Tensor dLogits_RE) {

    /**
     * The buffers for micro-batches of {@code maxRows} tokens whose experts compute up to {@code expertRows} rows
     * (S of them at first), spread over ranks or not ({@code expertParallel}).
     */
    public static MoeScratch allocate(Backend backend, int maxRows, int k, int dim, int width, int experts,
                                      long expertRows, boolean expertParallel) {
        long slots = (long) maxRows * k;
        long re = (long) maxRows * experts;
        return new MoeScratch(expertParallel ? backend.allocate("moe dys", DType.F32, slots * dim)
                        : backend.allocateOperand("moe dys", slots * dim),
                operandRows(backend, "moe hs", width, slots, expertRows, expertParallel),
                new GrowingTensor(backend, "moe dhs", DType.F32, width, slots, expertRows),
                operandRows(backend, "moe dgs", width, slots, expertRows, expertParallel),
                operandRows(backend, "moe dus", width, slots, expertRows, expertParallel),
                backend.allocate("moe dxs", DType.F32, slots * dim),
                backend.allocate("moe dweight", DType.F32, slots),
                backend.allocate("router dlogits", DType.F32, re));
    }

    /** hs, dGs or dUs: produced operands of fixed size on one engine, growing fp32 rows under expert parallelism. */
    private static GrowingTensor operandRows(Backend backend, String role, int width, long slots, long expertRows,
                                              boolean expertParallel) {
        return expertParallel ? new GrowingTensor(backend, role, DType.F32, width, slots, expertRows)
                : GrowingTensor.fixed(backend.allocateOperand(role, slots * width), width);
    }
}
