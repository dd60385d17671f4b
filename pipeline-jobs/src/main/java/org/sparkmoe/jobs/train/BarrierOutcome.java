package org.sparkmoe.jobs.train;

import java.io.Serializable;

/**
 * What one barrier task returns to the driver: its round's report and no vector.
 *
 * @param report         the worker's account of the round, as the driver path's tasks give it
 * @param location       where the task ran, as a Spark task location ({@code executor_<host>_<id>}): the next
 *                       round prefers it, so each rank finds the state its executor holds
 * @param replayedRounds rounds recomputed from the last checkpoint before this one (a rank's state was lost)
 */
record BarrierOutcome(WorkerReport report, String location, int replayedRounds) implements Serializable {}
