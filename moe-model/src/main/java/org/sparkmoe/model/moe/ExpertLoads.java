package org.sparkmoe.model.moe;

import java.util.Arrays;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * The tokens routed to each expert of every MoE layer since each layer's last reset (the routing statistics).
 * Layers routed on the host add their counts here directly; layers routed by {@link Backend#routeExperts} add them
 * into one backend tensor, {@code load_LE}, which is read back once, for all layers, when a count is first asked
 * for: no wait per layer. The int32 counters are read before any could pass 2^31.
 *
 * <p>Legend: L MoE layers, E routed experts.
 */
public final class ExpertLoads {

    private final Backend backend;
    private final int experts;
    private final Tensor load_LE;
    private final Tensor[] rows;
    private final long[][] counts;
    private final long[] pending;
    private boolean unread;

    public ExpertLoads(Backend backend, int layers, int experts) {
        this.backend = backend;
        this.experts = experts;
        this.load_LE = backend.allocate("expert loads", DType.I32, Math.max(1, (long) layers * experts));
        this.rows = new Tensor[layers];
        for (int j = 0; j < layers; j++) {
            rows[j] = backend.view(load_LE, "expert load " + j, (long) j * experts, experts);
        }
        this.counts = new long[layers][experts];
        this.pending = new long[layers];
    }

    /** Layer j's counters in backend memory, for {@code assignments} more (token, expert) assignments. */
    Tensor deviceRow(int j, long assignments) {
        if (pending[j] + assignments > Integer.MAX_VALUE) {
            read();
        }
        pending[j] += assignments;
        unread = true;
        return rows[j];
    }

    /** Adds counts the host already holds. */
    void add(int j, int[] tokensPerExpert) {
        for (int e = 0; e < experts; e++) {
            counts[j][e] += tokensPerExpert[e];
        }
    }

    /** Layer j's tokens per expert since its last {@link #reset}; reads every layer's counters once if unread. */
    public long[] tokensPerExpert(int j) {
        if (unread) {
            read();
        }
        return counts[j].clone();
    }

    /** Zeroes layer j's counts (its backend counters too: no read). */
    public void reset(int j) {
        Arrays.fill(counts[j], 0);
        if (pending[j] > 0) {
            backend.fill(rows[j], 0f);
            pending[j] = 0;
        }
    }

    private void read() {
        int[] all = new int[rows.length * experts];
        backend.downloadInts(load_LE, 0, all, 0, all.length);
        for (int j = 0; j < rows.length; j++) {
            for (int e = 0; e < experts; e++) {
                counts[j][e] += all[j * experts + e];
            }
        }
        backend.fill(load_LE, 0f);
        Arrays.fill(pending, 0);
        unread = false;
    }
}
