package org.sparkmoe.jobs.train;

import java.time.Duration;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/** One console line per round: round, loss, tokens per second, the overhead share and the ETA. */
public final class ProgressReporter {

    private static final Logger LOG = LogManager.getLogger(ProgressReporter.class);

    private final int totalRounds;
    private final int firstRound;
    private final long startedNanos = System.nanoTime();

    public ProgressReporter(int firstRound, int totalRounds) {
        this.firstRound = firstRound;
        this.totalRounds = totalRounds;
    }

    public void roundDone(RoundSummary s) {
        int done = s.round() + 1 - firstRound;
        double elapsed = (System.nanoTime() - startedNanos) / 1e9;
        long etaSeconds = Math.round(elapsed / done * (totalRounds - s.round() - 1));
        LOG.info(String.format("round %d/%d  loss %.4f  %,.0f tok/s  overhead %.0f%%  workers %d%s  ETA %s",
                s.round() + 1, totalRounds, s.loss(), s.tokensPerSecond(),
                100 * s.overheadSeconds() / Math.max(s.roundSeconds(), 1e-9), s.contributors(),
                s.excludedWorkers() + s.skippedSteps() > 0
                        ? " (" + s.excludedWorkers() + " excluded, " + s.skippedSteps() + " steps skipped)" : "",
                format(Duration.ofSeconds(etaSeconds))));
    }

    private static String format(Duration d) {
        return d.toHours() > 0 ? String.format("%dh%02dm", d.toHours(), d.toMinutesPart())
                : String.format("%dm%02ds", d.toMinutes(), d.toSecondsPart());
    }
}
