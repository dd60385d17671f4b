package org.sparkmoe.jobs.train;

import java.io.Serializable;

/**
 * What the driver sends the tasks of one barrier round: no vectors, only where things stand. A task starts from the
 * state its executor holds for the round ({@link HeldRounds}); when a rank lacks it, every rank restarts from
 * {@code restartCheckpoint} and replays the rounds since.
 *
 * @param round               0-based round index
 * @param readerStates        per worker, where its data stream stands at the start of the round
 * @param restartRound        the rounds done at the newest published checkpoint (0 when there is none)
 * @param restartCheckpoint   that checkpoint's directory, or null: restart from the initial parameters
 * @param restartReaderStates the reader states recorded in that checkpoint (null entries: at the start)
 * @param checkpointStaging   the staging directory of the checkpoint the workers write their vectors into after this
 *                            round, or null when no checkpoint is due
 * @param last                true for the run's last round: rank 0 writes {@code final/}
 * @param attempt             0, or how often the round's stage has failed and been submitted again
 */
record RoundOrder(int round, String[] readerStates, int restartRound, String restartCheckpoint,
                  String[] restartReaderStates, String checkpointStaging, boolean last, int attempt)
        implements Serializable {

    RoundOrder nextAttempt() {
        return new RoundOrder(round, readerStates, restartRound, restartCheckpoint, restartReaderStates, checkpointStaging,
                last, attempt + 1);
    }
}
