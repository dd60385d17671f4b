package org.sparkmoe.jobs.train;

import java.io.Serializable;

/**
 * What the driver broadcasts at the start of round {@code round}. A task reads only this, its plan and the previous
 * round's immutable worker-state files, so a retried task recomputes exactly the same update.
 *
 * @param round                  0-based round index
 * @param params_P               the global parameters
 * @param averagedOptimizerState the mean inner optimiser state, or null when states stay local to each worker
 * @param readerStates           per worker, where its data stream stands ({@link TrainingData.TokenStream#state()}),
 *                               or null entries at the start of training
 * @param priorStatesDir         where each worker's optimiser state from the previous round lives, or null when
 *                               workers start with a fresh optimiser (round 0)
 */
public record RoundBroadcast(int round, float[] params_P, float[] averagedOptimizerState, String[] readerStates,
                             String priorStatesDir) implements Serializable {}
