package org.sparkmoe.jobs.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a round's time goes, phase by phase (seconds, in the order first met; a phase met twice adds up): each
 * {@link #lap} closes the phase that ran since the previous one. Workers report theirs with the round, the driver
 * adds its own, and {@code rounds.jsonl} carries them under {@code phases}.
 */
final class PhaseTimes {

    private final Map<String, Double> seconds = new LinkedHashMap<>();
    private long mark = System.nanoTime();

    /** Ends the phase that ran since the last lap (or since this was made) as {@code phase}. */
    void lap(String phase) {
        long now = System.nanoTime();
        add(phase, (now - mark) / 1e9);
        mark = now;
    }

    /** Adds a measured span to {@code phase}. */
    void add(String phase, double spanSeconds) {
        seconds.merge(phase, spanSeconds, Double::sum);
    }

    /** Moves the mark to now without charging any phase. */
    void skip() {
        mark = System.nanoTime();
    }

    Map<String, Double> asMap() {
        return new LinkedHashMap<>(seconds);
    }
}
