package org.sparkmoe.jobs.spark;

import org.sparkmoe.model.backend.Notices;

/**
 * Notices an executor (or the driver) says once, not once per task: a task asks {@link #first} with a key naming
 * the notice and what it is about (for example the run and the device), and logs only when it is the first to ask
 * in this JVM. Executors are long-lived JVMs running many tasks of a job, so per-task notices would repeat every
 * round. The same set as moe-model's {@link Notices}, which the engine's and backends' banners use.
 */
public final class OncePerJvm {

    private OncePerJvm() {}

    /** True exactly once per JVM for {@code key}. */
    public static boolean first(String key) {
        return Notices.first(key);
    }
}
