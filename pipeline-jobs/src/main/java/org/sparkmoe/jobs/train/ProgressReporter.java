package org.sparkmoe.jobs.train;

import org.sparkmoe.jobs.spark.JobProgress;

/**
 * One console line per round through {@link JobProgress}: loss (and the validation loss after a round that scored
 * one), tokens per second, the overhead share and the ETA.
 */
public final class ProgressReporter {

    private final JobProgress rounds;

    public ProgressReporter(int firstRound, int totalRounds) {
        this.rounds = JobProgress.rounds("train", firstRound, totalRounds);
    }

    public void roundDone(RoundSummary s) {
        rounds.done(String.format("loss %.4f%s  %,.0f tok/s  overhead %.0f%%  workers %d%s", s.loss(),
                s.validation() == null ? "" : String.format("  validation %.4f", s.validation().loss()),
                s.tokensPerSecond(), 100 * s.overheadSeconds() / Math.max(s.roundSeconds(), 1e-9), s.contributors(),
                s.excludedWorkers() + s.skippedSteps() > 0
                        ? " (" + s.excludedWorkers() + " excluded, " + s.skippedSteps() + " steps skipped)" : ""));
    }
}
