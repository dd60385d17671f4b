package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * The SwiGLU experts one engine computes (all E without expert parallelism, its block of E/D with it) over an
 * expert-major slab: rows of expert 0, then of expert 1, ..., one grouped GEMM per projection. Keeps g, u, h for
 * backward; the input slab is the caller's and must be kept until backward.
 *
 * <p>Legend: N rows of the slab, G experts held, D width, I expert width. Weights stacked per projection: gate_GID,
 * up_GID, down_GDI. Slabs: xs_ND, ys_ND, dYs_ND, dXs_ND; gs/us/hs_NI.
 */
public final class GroupedExperts {

    private final Backend backend;
    private final Tensor gate_GID;
    private final Tensor up_GID;
    private final Tensor down_GDI;
    private final Tensor dGate_GID;
    private final Tensor dUp_GID;
    private final Tensor dDown_GDI;
    private final int dim;
    private final int width;
    private final long maxRows;
    private final Tensor gs_NI;
    private final Tensor us_NI;
    private final Tensor hs_NI;
    private final Tensor dHs_NI;
    private final Tensor dGs_NI;
    private final Tensor dUs_NI;

    /**
     * @param weights gate, up, down stacked over the experts held; {@code grads} the same (null entries forward-only)
     * @param maxRows the most slab rows one forward takes
     */
    public GroupedExperts(Backend backend, Tensor[] weights, Tensor[] grads, int dim, int width, long maxRows,
                          MoeScratch scratch) {
        this.backend = backend;
        this.gate_GID = weights[0];
        this.up_GID = weights[1];
        this.down_GDI = weights[2];
        this.dGate_GID = grads[0];
        this.dUp_GID = grads[1];
        this.dDown_GDI = grads[2];
        this.dim = dim;
        this.width = width;
        this.maxRows = maxRows;
        this.gs_NI = backend.allocate("moe gs", DType.F32, maxRows * width);
        this.us_NI = backend.allocate("moe us", DType.F32, maxRows * width);
        this.hs_NI = backend.allocate("moe hs", DType.F32, maxRows * width);
        this.dHs_NI = scratch.dHs_NI();
        this.dGs_NI = scratch.dGs_NI();
        this.dUs_NI = scratch.dUs_NI();
    }

    /** The most slab rows one forward takes. */
    public long maxRows() {
        return maxRows;
    }

    /** {@code ys = experts(xs)}, expert g on its {@code counts[g]} rows. */
    public void forward(int[] counts, Tensor xs_ND, Tensor ys_ND) {
        long rows = rows(counts);
        if (rows == 0) {
            return;
        }
        backend.groupedMatmulNT(counts, width, dim, xs_ND, gate_GID, gs_NI, false);
        backend.groupedMatmulNT(counts, width, dim, xs_ND, up_GID, us_NI, false);
        backend.swigluForward(gs_NI, us_NI, hs_NI, rows * width);
        backend.groupedMatmulNT(counts, dim, width, hs_NI, down_GDI, ys_ND, false);
    }

    /** Accumulates the weight gradients and overwrites {@code dXs} from {@code dYs}, after a {@link #forward} on xs. */
    public void backward(int[] counts, Tensor dYs_ND, Tensor xs_ND, Tensor dXs_ND) {
        long rows = rows(counts);
        if (rows == 0) {
            return;
        }
        backend.groupedMatmulTN(counts, dim, width, dYs_ND, hs_NI, dDown_GDI, true);
        backend.groupedMatmulNN(counts, dim, width, dYs_ND, down_GDI, dHs_NI, false);
        backend.swigluBackward(dHs_NI, gs_NI, us_NI, dGs_NI, dUs_NI, rows * width);
        backend.groupedMatmulTN(counts, width, dim, dGs_NI, xs_ND, dGate_GID, true);
        backend.groupedMatmulTN(counts, width, dim, dUs_NI, xs_ND, dUp_GID, true);
        backend.groupedMatmulNN(counts, width, dim, dGs_NI, gate_GID, dXs_ND, false);
        backend.groupedMatmulNN(counts, width, dim, dUs_NI, up_GID, dXs_ND, true);
    }

    private long rows(int[] counts) {
        long rows = 0;
        for (int c : counts) {
            rows += c;
        }
        if (rows > maxRows) {
            throw new IllegalArgumentException(rows + " expert rows exceed the " + maxRows
                    + " the experts' buffers were sized for");
        }
        return rows;
    }
}
