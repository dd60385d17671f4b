package org.sparkmoe.model.backend;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which notices this JVM has said, so a banner is logged once per JVM and configuration rather than once per engine:
 * a Spark executor builds an engine for each task slot, and evaluation one per task, all with the same backend and
 * kernel path. The key names the notice and what it is about (its text will do). pipeline-jobs' {@code OncePerJvm}
 * asks the same set.
 */
public final class Notices {

    private static final Set<String> SAID = ConcurrentHashMap.newKeySet();

    private Notices() {}

    /** True exactly once per JVM for {@code key}. */
    public static boolean first(String key) {
        return SAID.add(key);
    }
}
