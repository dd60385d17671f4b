package org.sparkmoe.jobs.train;

import java.io.Serializable;

/**
 * What every worker task of a run needs besides the round's broadcast: the engine and data descriptions and the
 * shape of a round. Small; shipped with each task.
 *
 * @param engine                 builds the worker's engine
 * @param data                   the training data
 * @param run                    the run directory (worker optimiser states live there)
 * @param workers                W, the number of worker tasks per round
 * @param localSteps             H, optimiser steps per worker per round
 * @param batchSize              sequences per local step
 * @param seqLen                 context length; each sequence holds seqLen + 1 tokens (inputs and shifted target)
 * @param device                 where each task's engine runs ({@link EngineDevice#bind})
 * @param averageOptimizerState  true to average the inner optimiser states too (Deeplearning4j's saveUpdater)
 */
public record WorkerPlan(LocalTrainerFactory engine, TrainingData data, RunDirectory run, int workers, int localSteps,
                         int batchSize, int seqLen, EngineDevice device, boolean averageOptimizerState)
        implements Serializable {}
