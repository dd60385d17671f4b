package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.SlabOffsets;
import org.sparkmoe.model.backend.Tensor;

/**
 * The routed experts of one MoE layer, computed the way fast systems do: sort the R·K (token, expert) assignments
 * by expert, copy the tokens into an expert-major slab, run one grouped GEMM per projection over the contiguous
 * per-expert slabs ({@link GroupedExperts}), and combine back weighted by the gate in fp32. No token is dropped.
 *
 * <p>Under expert parallelism an {@link ExpertExchange} sits between the sort and the GEMMs: the sorted slab goes to
 * the ranks holding its experts, the rank's {@link GroupedExperts} (its E/D experts) run on the rows it received, and
 * the outputs come back into the sorted slab before the combine. Without one (one engine, every expert) the GEMMs
 * run on the sorted slab itself, and where the backend {@link Backend#routesOnDevice routes on the device} the sort,
 * the expert offsets and the tokens-per-expert counts stay in backend memory: the host never waits for the routing.
 *
 * <p>Each layer keeps one slab of S rows, sorted by expert: it receives the gathered inputs xs, then, once the
 * experts' gate and up projections (or the exchange) have read them, the experts' outputs ys, which combine's
 * backward reads. Backward then gathers xs into it again from the layer's input, which the decoder layer keeps
 * anyway: the same row copies as the forward's, so the same bits, and no per-layer slab of inputs. Under expert
 * parallelism the rows the rank's experts computed on came from other ranks; the exchange keeps them
 * ({@link ExpertExchange}), and backward gathers nothing.
 *
 * <p>Legend: R tokens, K experts per token, S = R·K slots, E experts, D width. slab_SD (sorted by expert) holds xs
 * or ys as said above; slot_RK (int32) the slot of each assignment.
 */
public final class RoutedExperts {

    private final Backend backend;
    private final GroupedExperts experts;
    private final ExpertExchange exchange;
    private final int routedExperts;
    private final int k;
    private final int dim;
    private final long slotCapacity;
    private final Tensor slot_RK;
    private final Tensor slab_SD;
    private final Tensor dYs_SD;
    private final Tensor dXs_SD;
    private final Tensor dWeight_RK;
    private final Tensor offsets_E1;
    private final ExpertLoads loads;
    private final int loadLayer;
    private ExpertRows groups;
    private Tensor expertXs_ND;

    /**
     * @param experts       the experts this engine computes: all {@code routedExperts}, or its block of them when
     *                      {@code exchange} is not null
     * @param exchange      expert parallelism's exchange with the other ranks, or null for one engine holding all
     * @param loads         where the tokens per expert are counted; this layer is its row {@code loadLayer}
     * @param scratch       null in a model without gradients (inference)
     */
    public RoutedExperts(Backend backend, Activations activations, GroupedExperts experts, ExpertExchange exchange,
                         int routedExperts, int k, int dim, int maxRows, ExpertLoads loads, int loadLayer,
                         MoeScratch scratch) {
        this.backend = backend;
        this.experts = experts;
        this.exchange = exchange;
        this.routedExperts = routedExperts;
        this.k = k;
        this.dim = dim;
        long slots = (long) maxRows * k;
        this.slotCapacity = slots;
        this.slot_RK = activations.layer("moe slot", DType.I32, slots);
        this.offsets_E1 = activations.layer("moe offsets", DType.I32, routedExperts + 1L);
        this.loads = loads;
        this.loadLayer = loadLayer;
        this.slab_SD = activations.layer("moe slab", DType.F32, slots * dim);
        this.dYs_SD = scratch == null ? null : scratch.dYs_SD();
        this.dXs_SD = scratch == null ? null : scratch.dXs_SD();
        this.dWeight_RK = scratch == null ? null : scratch.dWeight_RK();
    }

    /**
     * {@code out (+)= Σ_k weight · expert_idx(x)} (overwrites unless {@code accumulate}: a layer without shared
     * experts); counts the tokens per expert into the layer's {@link ExpertLoads}.
     */
    public void forward(Tensor x_RD, Tensor idx_RK, Tensor weight_RK, Tensor out_RD, int rows, boolean accumulate) {
        forward(x_RD, idx_RK, weight_RK, out_RD, rows, k, accumulate);
    }

    /**
     * The forward with {@code kActive} experts per token ({@code idx_RK}, {@code weight_RK} are {@code [R, kActive]}),
     * for routing ablations; {@code rows · kActive} must fit the slabs ({@link #maxRows(int)}). No backward may follow
     * unless {@code kActive} is the layer's K.
     */
    public void forward(Tensor x_RD, Tensor idx_RK, Tensor weight_RK, Tensor out_RD, int rows, int kActive,
                         boolean accumulate) {
        if ((long) rows * kActive > slotCapacity) {
            throw new IllegalArgumentException(rows + " tokens x " + kActive + " experts exceed the " + slotCapacity
                    + " expert slots the layer was sized for");
        }
        long assignments = (long) rows * kActive;
        if (exchange == null && backend.routesOnDevice()) {
            backend.routeExperts(idx_RK, slot_RK, offsets_E1, loads.deviceRow(loadLayer, assignments), rows, kActive,
                    routedExperts);
            groups = ExpertRows.inBackend(new SlabOffsets(offsets_E1, routedExperts, assignments));
        } else {
            int[] counts = backend.expertCounts(idx_RK, slot_RK, rows, kActive, routedExperts);
            loads.add(loadLayer, counts);
            groups = ExpertRows.onHost(counts);
        }
        if (exchange == null) {
            try (HeldOperands _ = backend.produceOperands(slab_SD)) {
                backend.dispatchRows(x_RD, slot_RK, slab_SD, rows, kActive, dim);
                experts.up(groups, slab_SD);
            }
            experts.down(groups, slab_SD);
        } else {
            backend.dispatchRows(x_RD, slot_RK, slab_SD, rows, kActive, dim);
            expertXs_ND = exchange.dispatch(groups.counts(), slab_SD);
            experts.forward(ExpertRows.onHost(exchange.localCounts()), expertXs_ND, exchange.outputRows());
            exchange.combine(slab_SD);
        }
        backend.combine(slab_SD, slot_RK, weight_RK, out_RD, rows, kActive, dim, accumulate);
    }

    /** The most tokens one {@link #forward} can take with {@code kActive} experts per token. */
    public int maxRows(int kActive) {
        return (int) (slotCapacity / kActive);
    }

    /** Whether the experts are spread over ranks (an exchange runs in every forward and backward). */
    public boolean expertParallel() {
        return exchange != null;
    }

    /**
     * Accumulates expert weight gradients, {@code dx (+)= ∂/∂x} (overwrites unless {@code accumulate}); returns the
     * gate weights' gradient {@code [R, K]}. {@code x_RD} is the last forward's input, unchanged.
     */
    public Tensor backward(Tensor dOut_RD, Tensor x_RD, Tensor weight_RK, Tensor dx_RD, int rows,
                           boolean accumulate) {
        if (exchange == null) {
            try (HeldOperands _ = backend.produceOperands(dYs_SD)) {
                backend.combineBackward(dOut_RD, slab_SD, slot_RK, weight_RK, dYs_SD, dWeight_RK, rows, k, dim);
                try (HeldOperands _ = backend.produceOperands(slab_SD)) {
                    backend.dispatchRows(x_RD, slot_RK, slab_SD, rows, k, dim);
                    experts.backward(groups, dYs_SD, slab_SD, dXs_SD);
                }
            }
        } else {
            backend.combineBackward(dOut_RD, slab_SD, slot_RK, weight_RK, dYs_SD, dWeight_RK, rows, k, dim);
            Tensor dYs_ND = exchange.combineBackward(dYs_SD);
            experts.backward(ExpertRows.onHost(exchange.localCounts()), dYs_ND, expertXs_ND, exchange.inputGradientRows());
            exchange.dispatchBackward(dXs_SD);
        }
        backend.dispatchRowsBackward(dXs_SD, slot_RK, dx_RD, rows, k, dim, accumulate);
        return dWeight_RK;
    }
}
