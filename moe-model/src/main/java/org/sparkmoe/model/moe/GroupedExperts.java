package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GradientWrites;
import org.sparkmoe.model.backend.GrowingTensor;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.Tensor;

/**
 * The SwiGLU experts one engine computes (all E without expert parallelism, its block of E/D with it) over an
 * expert-major slab: rows of expert 0, then of expert 1, ..., one grouped GEMM per projection. Keeps g and u for
 * backward; the input slab is the caller's and must hold the forward's xs again when backward runs. Its buffers hold
 * the slots of one micro-batch at first and grow, under expert parallelism, when the routing sends the rank more rows.
 *
 * <p>h = SwiGLU(g, u) is kept by no layer: forward needs it only between the SwiGLU and the down projection, backward
 * only for the down projection's weight gradient, so the SwiGLU's backward writes it again (the same bits) in the
 * same pass over g and u that gives dG and dU, once the down projection's input gradient dH is there. h lives in a
 * buffer every layer shares ({@link MoeScratch#hs_NI()} in a training model); h, dG and dU are read only by products,
 * so they are produced for them ({@link Backend#produceOperands}: on a GPU written in bf16 alone).
 *
 * <p>Legend: N rows of the slab, G experts held, D width, I expert width. Weights stacked per projection: gate_GID,
 * up_GID, down_GDI. Slabs: xs_ND, ys_ND, dYs_ND, dXs_ND; gs/us/hs/dHs/dGs/dUs_NI.
 */
public final class GroupedExperts {

    private final Backend backend;
    private final Tensor gate_GID;
    private final Tensor up_GID;
    private final Tensor down_GDI;
    private final Tensor dGate_GID;
    private final Tensor dUp_GID;
    private final Tensor dDown_GDI;
    private final GradientWrites gradientWrites;
    private final int dim;
    private final int width;
    private final long maxRows;
    private final GrowingTensor gs_NI;
    private final GrowingTensor us_NI;
    private final GrowingTensor hs_NI;
    private final GrowingTensor dHs_NI;
    private final GrowingTensor dGs_NI;
    private final GrowingTensor dUs_NI;

    /**
     * @param weights     gate, up, down stacked over the experts held; {@code grads} the same, or null (inference),
     *                    written as {@code gradientWrites} says (null in inference)
     * @param initialRows the slab rows the buffers hold at first (all of them, from {@code activations}, when it is
     *                    {@code maxRows})
     * @param maxRows     the most slab rows one forward takes
     * @param scratch     null in a model without gradients
     */
    public GroupedExperts(Backend backend, Activations activations, Tensor[] weights, Tensor[] grads,
                          GradientWrites gradientWrites, int dim, int width, long initialRows, long maxRows,
                          MoeScratch scratch) {
        this.backend = backend;
        this.gradientWrites = gradientWrites;
        this.gate_GID = weights[0];
        this.up_GID = weights[1];
        this.down_GDI = weights[2];
        this.dGate_GID = grads == null ? null : grads[0];
        this.dUp_GID = grads == null ? null : grads[1];
        this.dDown_GDI = grads == null ? null : grads[2];
        this.dim = dim;
        this.width = width;
        this.maxRows = maxRows;
        this.gs_NI = rows(backend, activations, "moe gs", initialRows, maxRows);
        this.us_NI = rows(backend, activations, "moe us", initialRows, maxRows);
        this.hs_NI = scratch == null ? rows(backend, activations, "moe hs", initialRows, maxRows) : scratch.hs_NI();
        this.dHs_NI = scratch == null ? null : scratch.dHs_NI();
        this.dGs_NI = scratch == null ? null : scratch.dGs_NI();
        this.dUs_NI = scratch == null ? null : scratch.dUs_NI();
    }

    /** A buffer of the activations (shared by the layers of an inference model) unless it may have to grow. */
    private GrowingTensor rows(Backend backend, Activations activations, String role, long initialRows, long maxRows) {
        return initialRows == maxRows
                ? GrowingTensor.fixed(activations.layer(role, DType.F32, maxRows * width), width)
                : new GrowingTensor(backend, role, DType.F32, width, initialRows, maxRows);
    }

    /** The most slab rows one forward takes. */
    public long maxRows() {
        return maxRows;
    }

    /**
     * {@code ys = experts(xs)}, expert g on its rows of {@code groups}: {@link #up} then {@link #down}; {@code ys} may
     * be {@code xs} itself (the down projection, which writes ys, reads only h).
     */
    void forward(ExpertRows groups, Tensor xs_ND, Tensor ys_ND) {
        up(groups, xs_ND);
        down(groups, ys_ND);
    }

    /**
     * The gate and up projections, the only readers of xs: a caller that gathers xs may produce it for them
     * ({@link Backend#produceOperands}) in a scope around its gather and this call.
     */
    void up(ExpertRows groups, Tensor xs_ND) {
        long rows = rows(groups);
        if (rows == 0) {
            return;
        }
        try (HeldOperands _ = backend.holdOperands(xs_ND)) {
            groups.nt(backend, width, dim, xs_ND, gate_GID, gs_NI.rows(rows), false);
            groups.nt(backend, width, dim, xs_ND, up_GID, us_NI.rows(rows), false);
        }
    }

    /** {@code ys = down(SwiGLU(g, u))} after {@link #up}, h produced for the down projection alone. */
    void down(ExpertRows groups, Tensor ys_ND) {
        long rows = rows(groups);
        if (rows == 0) {
            return;
        }
        Tensor hs = hs_NI.rows(rows);
        try (HeldOperands _ = backend.produceOperands(hs)) {
            backend.swigluForward(gs_NI.current(), us_NI.current(), hs, rows * width);
            groups.nt(backend, dim, width, hs, down_GDI, ys_ND, false);
        }
    }

    /**
     * Writes the weight gradients as {@link GradientWrites} says (every expert's, zero for one without rows) and
     * overwrites {@code dXs} from {@code dYs}, after a {@link #forward} on
     * {@code xs} (the same rows, or the caller's exact copy of them). dYs and xs are read only by products here, so
     * a caller may produce them for GEMMs ({@link Backend#produceOperands}) around their writing and this call; h and
     * the SwiGLU's input gradients are produced here.
     */
    void backward(ExpertRows groups, Tensor dYs_ND, Tensor xs_ND, Tensor dXs_ND) {
        long rows = rows(groups);
        boolean accumulate = gradientWrites.accumulate();
        if (rows == 0) {
            if (!accumulate) {
                backend.fill(dGate_GID, 0f);
                backend.fill(dUp_GID, 0f);
                backend.fill(dDown_GDI, 0f);
            }
            return;
        }
        Tensor gs = gs_NI.current();
        Tensor us = us_NI.current();
        Tensor hs = hs_NI.rows(rows);
        Tensor dHs = dHs_NI.rows(rows);
        Tensor dGs = dGs_NI.rows(rows);
        Tensor dUs = dUs_NI.rows(rows);
        try (HeldOperands _ = backend.produceOperands(hs, dGs, dUs)) {
            try (HeldOperands _ = backend.holdOperands(dYs_ND)) {
                groups.nn(backend, dim, width, dYs_ND, down_GDI, dHs, false);
                backend.swigluBackward(dHs, gs, us, hs, dGs, dUs, rows * width);
                groups.tn(backend, dim, width, dYs_ND, hs, dDown_GDI, accumulate);
            }
            try (HeldOperands _ = backend.holdOperands(xs_ND)) {
                groups.tn(backend, width, dim, dGs, xs_ND, dGate_GID, accumulate);
                groups.tn(backend, width, dim, dUs, xs_ND, dUp_GID, accumulate);
                groups.nn(backend, width, dim, dGs, gate_GID, dXs_ND, false);
                groups.nn(backend, width, dim, dUs, up_GID, dXs_ND, true);
            }
        }
    }

    private long rows(ExpertRows groups) {
        long rows = groups.total();
        if (rows > maxRows) {
            throw new IllegalArgumentException(rows + " expert rows exceed the " + maxRows
                    + " the experts' buffers were sized for");
        }
        return rows;
    }
}
