package org.sparkmoe.jobs.train;

/**
 * Everything a run needs to continue after round {@code completedRounds - 1} exactly as if it had not stopped.
 *
 * @param completedRounds        rounds done; the next round to run has this index
 * @param tokens                 tokens trained on so far, all workers together
 * @param params_P               the global parameters
 * @param outerState             the outer optimiser's state (DiLoCo momentum; empty for plain averaging)
 * @param averagedOptimizerState the mean inner optimiser state when states are averaged, else null
 * @param readerStates           per worker, where its data stream stands (null entries: at the start)
 * @param workerStatesDir        the directory holding each worker's inner optimiser state
 */
public record ResumeState(int completedRounds, long tokens, float[] params_P, float[] outerState,
                          float[] averagedOptimizerState, String[] readerStates, String workerStatesDir) {}
