package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * The routed experts of one MoE layer, computed the way fast systems do: sort the R·K (token, expert) assignments
 * by expert, copy the tokens into an expert-major slab, run one grouped GEMM per projection over the contiguous
 * per-expert slabs, and combine back weighted by the gate in fp32. No token is dropped.
 *
 * <p>Legend: R tokens, K experts per token, S = R·K slots, E experts, D width, I expert width.
 * Weights stacked per projection: gate_EID, up_EID, down_EDI. Slabs: xs_SD, gs/us/hs_SI, ys_SD.
 */
public final class RoutedExperts {

    private final Backend backend;
    private final Tensor gate_EID;
    private final Tensor up_EID;
    private final Tensor down_EDI;
    private final Tensor dGate_EID;
    private final Tensor dUp_EID;
    private final Tensor dDown_EDI;
    private final int experts;
    private final int k;
    private final int dim;
    private final int width;
    private final long slotCapacity;
    private final Tensor slot_RK;
    private final Tensor xs_SD;
    private final Tensor gs_SI;
    private final Tensor us_SI;
    private final Tensor hs_SI;
    private final Tensor ys_SD;
    private final Tensor dYs_SD;
    private final Tensor dHs_SI;
    private final Tensor dGs_SI;
    private final Tensor dUs_SI;
    private final Tensor dXs_SD;
    private final Tensor dWeight_RK;
    private int[] counts;

    /** {@code grads} and {@code scratch} are null in a model without gradients (inference). */
    public RoutedExperts(Backend backend, Activations activations, Tensor[] weights, Tensor[] grads, int experts, int k,
                         int dim, int width, int maxRows, MoeScratch scratch) {
        this.backend = backend;
        this.gate_EID = weights[0];
        this.up_EID = weights[1];
        this.down_EDI = weights[2];
        this.dGate_EID = grads == null ? null : grads[0];
        this.dUp_EID = grads == null ? null : grads[1];
        this.dDown_EDI = grads == null ? null : grads[2];
        this.experts = experts;
        this.k = k;
        this.dim = dim;
        this.width = width;
        long slots = (long) maxRows * k;
        this.slotCapacity = slots;
        this.slot_RK = activations.layer("moe slot", DType.I32, slots);
        this.xs_SD = activations.layer("moe xs", DType.F32, slots * dim);
        this.gs_SI = activations.layer("moe gs", DType.F32, slots * width);
        this.us_SI = activations.layer("moe us", DType.F32, slots * width);
        this.hs_SI = activations.layer("moe hs", DType.F32, slots * width);
        this.ys_SD = activations.layer("moe ys", DType.F32, slots * dim);
        this.dYs_SD = scratch == null ? null : scratch.dYs_SD();
        this.dHs_SI = scratch == null ? null : scratch.dHs_SI();
        this.dGs_SI = scratch == null ? null : scratch.dGs_SI();
        this.dUs_SI = scratch == null ? null : scratch.dUs_SI();
        this.dXs_SD = scratch == null ? null : scratch.dXs_SD();
        this.dWeight_RK = scratch == null ? null : scratch.dWeight_RK();
    }

    /** {@code out += Σ_k weight · expert_idx(x)}; returns the tokens per expert. */
    public int[] forward(Tensor x_RD, Tensor idx_RK, Tensor weight_RK, Tensor out_RD, int rows) {
        return forward(x_RD, idx_RK, weight_RK, out_RD, rows, k);
    }

    /**
     * The forward with {@code kActive} experts per token ({@code idx_RK}, {@code weight_RK} are {@code [R, kActive]}),
     * for routing ablations; {@code rows · kActive} must fit the slabs ({@link #maxRows(int)}). No backward may follow
     * unless {@code kActive} is the layer's K.
     */
    public int[] forward(Tensor x_RD, Tensor idx_RK, Tensor weight_RK, Tensor out_RD, int rows, int kActive) {
        if ((long) rows * kActive > slotCapacity) {
            throw new IllegalArgumentException(rows + " tokens x " + kActive + " experts exceed the " + slotCapacity
                    + " expert slots the layer was sized for");
        }
        counts = backend.expertCounts(idx_RK, slot_RK, rows, kActive, experts);
        int slots = rows * kActive;
        backend.dispatchRows(x_RD, slot_RK, xs_SD, rows, kActive, dim);
        backend.groupedMatmulNT(counts, width, dim, xs_SD, gate_EID, gs_SI, false);
        backend.groupedMatmulNT(counts, width, dim, xs_SD, up_EID, us_SI, false);
        backend.swigluForward(gs_SI, us_SI, hs_SI, (long) slots * width);
        backend.groupedMatmulNT(counts, dim, width, hs_SI, down_EDI, ys_SD, false);
        backend.combine(ys_SD, slot_RK, weight_RK, out_RD, rows, kActive, dim);
        return counts;
    }

    /** The most tokens one {@link #forward} can take with {@code kActive} experts per token. */
    public int maxRows(int kActive) {
        return (int) (slotCapacity / kActive);
    }

    /** Accumulates expert weight gradients, {@code dx += ∂/∂x}; returns the gate weights' gradient {@code [R, K]}. */
    public Tensor backward(Tensor dOut_RD, Tensor weight_RK, Tensor dx_RD, int rows) {
        int slots = rows * k;
        backend.combineBackward(dOut_RD, ys_SD, slot_RK, weight_RK, dYs_SD, dWeight_RK, rows, k, dim);
        backend.groupedMatmulTN(counts, dim, width, dYs_SD, hs_SI, dDown_EDI, true);
        backend.groupedMatmulNN(counts, dim, width, dYs_SD, down_EDI, dHs_SI, false);
        backend.swigluBackward(dHs_SI, gs_SI, us_SI, dGs_SI, dUs_SI, (long) slots * width);
        backend.groupedMatmulTN(counts, width, dim, dGs_SI, xs_SD, dGate_EID, true);
        backend.groupedMatmulTN(counts, width, dim, dUs_SI, xs_SD, dUp_EID, true);
        backend.groupedMatmulNN(counts, width, dim, dGs_SI, gate_EID, dXs_SD, false);
        backend.groupedMatmulNN(counts, width, dim, dUs_SI, up_EID, dXs_SD, true);
        backend.dispatchRowsBackward(dXs_SD, slot_RK, dx_RD, rows, k, dim);
        return dWeight_RK;
    }
}
