package org.sparkmoe.model.decoder;

import java.util.EnumMap;
import java.util.Map;

/**
 * Wall time per phase of a training step, by switching the current phase around each block of ops. On the CPU
 * backend ops run synchronously, so these are real compute times; on an asynchronous device backend they are only
 * launch times. One instance per model, used by one thread.
 */
public final class PhaseTimer {

    /** The phases a step is split into. */
    public enum Phase {
        /** Embedding, RMSNorms, residual adds, batch upload. */
        OTHER,
        /** q/k/v/o projections, RoPE, causal attention (forward and backward). */
        ATTENTION,
        /** Router GEMM, softmax, top-K, balance losses, router backward. */
        ROUTER,
        /** Routed experts (sort, dispatch, grouped GEMMs, combine) and shared experts. */
        EXPERTS,
        /** Expert parallelism's all-to-all of counts and token rows, with their row permutations. */
        EXCHANGE,
        /** Dense SwiGLU layers. */
        DENSE_FFN,
        /** Final norm's output head and the cross-entropy. */
        HEAD_LOSS,
        /** Gradient norm and AdamW. */
        OPTIMIZER
    }

    private final long[] nanos = new long[Phase.values().length];
    private Phase current = Phase.OTHER;
    private long last = System.nanoTime();

    /** Makes {@code phase} current and returns the previous phase (to pass to {@link #exit}). */
    public Phase enter(Phase phase) {
        long now = System.nanoTime();
        nanos[current.ordinal()] += now - last;
        last = now;
        Phase previous = current;
        current = phase;
        return previous;
    }

    /** Returns to {@code previous}. */
    public void exit(Phase previous) {
        enter(previous);
    }

    /** Time per phase since the last {@link #reset}, in seconds. */
    public Map<Phase, Double> seconds() {
        enter(current);
        Map<Phase, Double> out = new EnumMap<>(Phase.class);
        for (Phase p : Phase.values()) {
            out.put(p, nanos[p.ordinal()] / 1e9);
        }
        return out;
    }

    public void reset() {
        java.util.Arrays.fill(nanos, 0);
        current = Phase.OTHER;
        last = System.nanoTime();
    }
}
