package org.sparkmoe.jobs.train;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The training state each barrier rank keeps on its executor between rounds, so the driver holds no vector and no
 * state goes through files between rounds: the rank's trainer itself (its parameters, the global ones after each
 * round's all-reduce, and its inner optimiser state, on its device), the outer optimiser and, with DiLoCo, the global
 * parameters the outer step moves (on the host). Averaging and data-parallel training keep nothing beside the
 * trainer, so a round copies no vector between device and host.
 *
 * <p>{@link Held#round} is -1 while a round changes the state, so a task that died half-way leaves no state that
 * looks valid. Entries belong to one driver invocation ({@link BarrierPlan#incarnation}) and are dropped, their
 * trainers handed to {@link IdleEngines}, when another invocation's rank stores its own.
 */
final class HeldRounds {

    /** One rank's state at the start of round {@link #round}. */
    static final class Held {
        final LocalTrainerFactory factory;
        LocalTrainer trainer;
        ComputeDevice device;
        final OuterOptimizer outer;
        /** DiLoCo's global parameters (the outer step's), or null when the trainer's own are the global ones. */
        final float[] global_P;
        /** The round the state starts; -1 while it is being rewritten. */
        int round;
        /** The report of round {@code round - 1}, returned again if a stage that already finished it is retried. */
        WorkerReport lastReport;

        Held(LocalTrainerFactory factory, LocalTrainer trainer, ComputeDevice device, OuterOptimizer outer,
             float[] global_P, int round) {
            this.factory = factory;
            this.trainer = trainer;
            this.device = device;
            this.outer = outer;
            this.global_P = global_P;
            this.round = round;
        }

        /** Hands the trainer to {@link IdleEngines}: the state is no longer needed. */
        void release() {
            IdleEngines.giveBack(factory, device, trainer);
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

    /** Forgets the state held for {@code rank} without releasing its trainer (the caller has it). */
    static synchronized void drop(String incarnation, int rank) {
        HELD.remove(new Key(incarnation, rank));
    }

    /** Keeps {@code held} for {@code rank}; releases what other invocations left. */
    static synchronized void put(String incarnation, int rank, Held held) {
        HELD.entrySet().removeIf(e -> {
            if (!e.getKey().incarnation().equals(incarnation)) {
                e.getValue().release();
                return true;
            }
            return false;
        });
        IN_USE.keySet().removeIf(k -> !k.incarnation().equals(incarnation));
        HELD.put(new Key(incarnation, rank), held);
    }
}
