package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GrowingTensor;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.decoder.PhaseTimer;

/**
 * Expert parallelism's token exchange for one MoE layer (docs/expert-parallel.md): the rank's assignments, already
 * sorted by expert and so by the rank holding it, go to their owners and the experts' outputs come back.
 *
 * <pre>
 * dispatch:  counts per expert → all-to-all (E/D counts to each rank) → rows per (peer, held expert)
 *            → all-to-all of the token rows → rows arrive peer-major → permute to expert-major (the grouped GEMMs)
 * combine:   outputs expert-major → permute to peer-major → all-to-all back → the sender's sorted slab
 * backward:  combine's backward sends dY rows to the owners (as dispatch does x), dispatch's backward returns dX rows
 *            (as combine returns y), with the same counts and permutations
 * </pre>
 *
 * Rows of one expert end up ordered by sending rank, then by the sender's token order: the order a single engine
 * holding every expert would give the union of the ranks' tokens. The permutations are row scatters
 * ({@link Backend#dispatchRows} with one slot per row), so the rows never leave the device; only the counts cross to
 * the host. Every rank must call the layer's forward and backward together, in the same order.
 *
 * <p>The buffers of N rows start at a micro-batch's slots S (what balanced routing sends each rank) and grow when
 * the routing sends a rank more ({@link GrowingTensor}), up to the most it can receive,
 * {@link ExpertPlacement#maxReceivedRows}: no token is dropped, and memory follows the actual imbalance.
 *
 * <p>Legend: S sorted slots of this rank's tokens, N rows this rank's experts receive, D width, E routed experts.
 * Per layer: xs_ND (received rows, kept for backward), toExpert_N / toPeer_N (int32 permutations).
 */
public final class ExpertExchange {

    /**
     * Buffers every layer's exchange shares: two slabs of N rows (peer-major and expert-major, used in turn within
     * one forward or backward) and the counts sent and received.
     */
    public record Buffers(GrowingTensor peer_ND, GrowingTensor expert_ND, Tensor countsOut_E, Tensor countsIn_E) {

        public static Buffers allocate(Backend backend, ExpertPlacement placement, int maxRows, int k, int dim) {
            long slots = (long) maxRows * k;
            long most = placement.maxReceivedRows(maxRows, k);
            return new Buffers(new GrowingTensor(backend, "exchange peer rows", DType.F32, dim, slots, most),
                    new GrowingTensor(backend, "exchange expert rows", DType.F32, dim, slots, most),
                    backend.allocate("exchange counts out", DType.I32, placement.experts()),
                    backend.allocate("exchange counts in", DType.I32, placement.experts()));
        }
    }

    private final Backend backend;
    private final Collective collective;
    private final ExpertPlacement placement;
    private final int dim;
    private final Buffers buffers;
    private final PhaseTimer timer;
    private final long maxReceived;
    private final GrowingTensor xs_ND;
    private final GrowingTensor toExpert_N;
    private final GrowingTensor toPeer_N;
    private final long[] countBlocks;
    private final int[] countsIn;
    private final long[] sendElements;
    private final long[] receiveElements;
    private int[] localCounts;
    private int received;

    public ExpertExchange(Backend backend, Collective collective, ExpertPlacement placement, int maxRows, int k,
                          int dim, Buffers buffers, PhaseTimer timer) {
        if (collective.size() != placement.ranks() || collective.rank() != placement.rank()) {
            throw new IllegalArgumentException("expert placement of rank " + placement.rank() + " of "
                    + placement.ranks() + " does not match the collective's rank " + collective.rank() + " of "
                    + collective.size());
        }
        this.backend = backend;
        this.collective = collective;
        this.placement = placement;
        this.dim = dim;
        this.buffers = buffers;
        this.timer = timer;
        long slots = (long) maxRows * k;
        this.maxReceived = placement.maxReceivedRows(maxRows, k);
        this.xs_ND = new GrowingTensor(backend, "exchange xs", DType.F32, dim, slots, maxReceived);
        this.toExpert_N = new GrowingTensor(backend, "exchange to expert", DType.I32, 1, slots, maxReceived);
        this.toPeer_N = new GrowingTensor(backend, "exchange to peer", DType.I32, 1, slots, maxReceived);
        int ranks = placement.ranks();
        this.countBlocks = new long[ranks];
        java.util.Arrays.fill(countBlocks, placement.localExperts());
        this.countsIn = new int[placement.experts()];
        this.sendElements = new long[ranks];
        this.receiveElements = new long[ranks];
    }

    /**
     * Sends each owner its rows of {@code xs_SD} (sorted by expert, {@code counts_E} rows per expert) and returns the
     * rows this rank's experts received, expert-major; {@link #localCounts()} then gives the rows per held expert.
     */
    public Tensor dispatch(int[] counts_E, Tensor xs_SD) {
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.EXCHANGE);
        exchangeCounts(counts_E);
        Tensor peer = buffers.peer_ND().rows(received);
        Tensor xs = xs_ND.rows(received);
        buffers.expert_ND().rows(received);
        collective.allToAll(xs_SD, sendElements, peer, receiveElements);
        if (received > 0) {
            backend.dispatchRows(peer, toExpert_N.current(), xs, received, 1, dim);
        }
        timer.exit(outer);
        return xs;
    }

    /** Rows per held expert received by the last {@link #dispatch}. */
    public int[] localCounts() {
        return localCounts;
    }

    /** Where the experts write their outputs (expert-major) before {@link #combine}. */
    public Tensor outputRows() {
        return buffers.expert_ND().current();
    }

    /** Returns the experts' outputs ({@link #outputRows()}) to the ranks that sent the rows, into {@code ys_SD}. */
    public void combine(Tensor ys_SD) {
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.EXCHANGE);
        Tensor peer = buffers.peer_ND().current();
        if (received > 0) {
            backend.dispatchRows(buffers.expert_ND().current(), toPeer_N.current(), peer, received, 1, dim);
        }
        collective.allToAll(peer, receiveElements, ys_SD, sendElements);
        timer.exit(outer);
    }

    /**
     * Combine's backward: sends the rows of {@code dYs_SD} to their owners; returns them expert-major. (The shared
     * slabs only grow, so later layers' forwards leave them room for this layer's rows.)
     */
    public Tensor combineBackward(Tensor dYs_SD) {
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.EXCHANGE);
        Tensor peer = buffers.peer_ND().current();
        Tensor expert = buffers.expert_ND().current();
        collective.allToAll(dYs_SD, sendElements, peer, receiveElements);
        if (received > 0) {
            backend.dispatchRows(peer, toExpert_N.current(), expert, received, 1, dim);
        }
        timer.exit(outer);
        return expert;
    }

    /** Where the experts write their input gradient (expert-major) before {@link #dispatchBackward}. */
    public Tensor inputGradientRows() {
        return buffers.peer_ND().current();
    }

    /** Dispatch's backward: returns the input gradient ({@link #inputGradientRows()}) to the senders, into dXs_SD. */
    public void dispatchBackward(Tensor dXs_SD) {
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.EXCHANGE);
        Tensor expert = buffers.expert_ND().current();
        if (received > 0) {
            backend.dispatchRows(buffers.peer_ND().current(), toPeer_N.current(), expert, received, 1, dim);
        }
        collective.allToAll(expert, receiveElements, dXs_SD, sendElements);
        timer.exit(outer);
    }

    /**
     * The all-to-all of counts (each rank sends each owner the counts of the owner's experts), then the row counts
     * per peer and the permutations between the peer-major arrival order and the expert-major slab.
     */
    private void exchangeCounts(int[] counts_E) {
        int ranks = placement.ranks();
        int held = placement.localExperts();
        backend.uploadInts(counts_E, 0, buffers.countsOut_E(), 0, counts_E.length);
        collective.allToAll(buffers.countsOut_E(), countBlocks, buffers.countsIn_E(), countBlocks);
        backend.downloadInts(buffers.countsIn_E(), 0, countsIn, 0, countsIn.length);
        int[] local = new int[held];
        for (int p = 0; p < ranks; p++) {
            long out = 0;
            long in = 0;
            for (int j = 0; j < held; j++) {
                out += counts_E[p * held + j];
                in += countsIn[p * held + j];
                local[j] += countsIn[p * held + j];
            }
            sendElements[p] = out * dim;
            receiveElements[p] = in * dim;
        }
        long total = 0;
        int[] cursor = new int[held];
        for (int j = 0; j < held; j++) {
            cursor[j] = (int) total;
            total += local[j];
        }
        if (total > maxReceived) {
            throw new IllegalStateException("rank " + placement.rank() + " received " + total + " rows for its "
                    + held + " experts, more than the " + maxReceived + " any micro-batch can send: the ranks"
                    + " run micro-batches of different sizes");
        }
        received = (int) total;
        localCounts = local;
        if (received == 0) {
            return;
        }
        int[] toExpert = new int[received];
        int[] toPeer = new int[received];
        int arrival = 0;
        for (int p = 0; p < ranks; p++) {
            for (int j = 0; j < held; j++) {
                for (int n = countsIn[p * held + j]; n > 0; n--) {
                    toExpert[arrival] = cursor[j];
                    toPeer[cursor[j]] = arrival;
                    cursor[j]++;
                    arrival++;
                }
            }
        }
        backend.uploadInts(toExpert, 0, toExpert_N.rows(received), 0, received);
        backend.uploadInts(toPeer, 0, toPeer_N.rows(received), 0, received);
    }
}
