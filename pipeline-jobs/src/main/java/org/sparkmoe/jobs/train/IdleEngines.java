package org.sparkmoe.jobs.train;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.sparkmoe.jobs.spark.OncePerJvm;

/**
 * Engines kept on an executor between rounds, so a task reuses one instead of allocating arenas, thread pools and
 * (on a GPU) device memory every round — a fresh engine's first step was the largest per-round cost measured
 * (docs/benchmarks.md, trainer). Safe because a task overwrites all of an engine's state before its first step:
 * parameters from the broadcast, and the optimiser state (all zeros for a fresh optimiser). Engines of one run's
 * configuration are kept, at most {@link #MAX_IDLE} per device; a task of another configuration closes them before
 * it builds its own, so an executor never holds two runs' engines at once.
 */
final class IdleEngines {

    private static final Logger LOG = LogManager.getLogger(IdleEngines.class);
    private static final int MAX_IDLE = 4;

    private record Key(LocalTrainerFactory factory, ComputeDevice device) {}

    private static final Map<Key, Deque<LocalTrainer>> IDLE = new HashMap<>();

    private IdleEngines() {}

    /** An idle engine of this configuration on this device, or a new one (after closing other configurations'). */
    static LocalTrainer take(LocalTrainerFactory factory, ComputeDevice device) {
        synchronized (IDLE) {
            closeOtherConfigurations(factory);
            Deque<LocalTrainer> idle = IDLE.get(new Key(factory, device));
            if (idle != null && !idle.isEmpty()) {
                return idle.pop();
            }
        }
        LOG.log(OncePerJvm.first("engine build " + factory.hashCode() + " " + device) ? Level.INFO : Level.DEBUG,
                "building an engine on {} (none idle on this executor)", device);
        return factory.create(device);
    }

    /** Returns an engine after a successful task; engines of other configurations are closed. */
    static void giveBack(LocalTrainerFactory factory, ComputeDevice device, LocalTrainer trainer) {
        Key key = new Key(factory, device);
        synchronized (IDLE) {
            closeOtherConfigurations(factory);
            Deque<LocalTrainer> idle = IDLE.computeIfAbsent(key, k -> new ArrayDeque<>());
            if (idle.size() < MAX_IDLE) {
                idle.push(trainer);
                return;
            }
        }
        trainer.close();
    }

    /** Closes and forgets idle engines of any configuration but {@code factory}'s; call holding the lock. */
    private static void closeOtherConfigurations(LocalTrainerFactory factory) {
        IDLE.entrySet().removeIf(e -> {
            if (!e.getKey().factory().equals(factory)) {
                e.getValue().forEach(LocalTrainer::close);
                return true;
            }
            return false;
        });
    }
}
