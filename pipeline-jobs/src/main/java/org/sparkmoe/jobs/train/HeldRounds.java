package org.sparkmoe.jobs.train;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The training state each barrier rank keeps in its executor's memory between rounds, so the driver holds no vector
 * and no optimiser state goes through files between rounds: the global parameters the next round starts from, the
 * outer optimiser (DiLoCo's momentum), this worker's inner optimiser state, and a scratch vector for the all-reduce.
 * About 20 bytes per parameter per rank, beside the engine's 16.
 *
 * <p>Rewritten in place at the end of each round; {@link Held#round} is -1 while that happens, so a task that died
 * half-way leaves no state that looks valid. Entries belong to one driver invocation ({@link BarrierPlan#incarnation})
 * and are dropped when another invocation's rank stores its own.
 */
final class HeldRounds {

    /** One rank's state at the start of round {@link #round}. */
    static final class Held {
        final float[] params_P;
        final OuterOptimizer outer;
        final float[] optimizerState_S;
        final float[] scratch_P;
        /** The round these arrays start; -1 while they are being rewritten. */
        int round;
        /** The report of round {@code round - 1}, returned again if a stage that already finished it is retried. */
        WorkerReport lastReport;

        Held(float[] params_P, OuterOptimizer outer, float[] optimizerState_S, int round) {
            this.params_P = params_P;
            this.outer = outer;
            this.optimizerState_S = optimizerState_S;
            this.scratch_P = new float[params_P.length];
            this.round = round;
        }
    }

    private record Key(String incarnation, int rank) {}

    private static final Map<Key, Held> HELD = new HashMap<>();
    private static final Map<Key, ReentrantLock> IN_USE = new HashMap<>();

    private HeldRounds() {}

    /**
     * The lock a task of {@code rank} holds while it works with the rank's state: a retried round's task waits for a
     * task of the failed attempt that is still finishing on this executor, instead of reading state it rewrites.
     */
    static synchronized ReentrantLock lock(String incarnation, int rank) {
        return IN_USE.computeIfAbsent(new Key(incarnation, rank), k -> new ReentrantLock());
    }

    /** The state this executor holds for {@code rank} of {@code incarnation}, or null. */
    static synchronized Held get(String incarnation, int rank) {
        return HELD.get(new Key(incarnation, rank));
    }

    /** Forgets the state held for {@code rank}. */
    static synchronized void drop(String incarnation, int rank) {
        HELD.remove(new Key(incarnation, rank));
    }

    /** Keeps {@code held} for {@code rank}; drops what other invocations left. */
    static synchronized void put(String incarnation, int rank, Held held) {
        HELD.keySet().removeIf(k -> !k.incarnation().equals(incarnation));
        IN_USE.keySet().removeIf(k -> !k.incarnation().equals(incarnation));
        HELD.put(new Key(incarnation, rank), held);
    }
}
