package org.sparkmoe.jobs.train;

import org.sparkmoe.jobs.cli.JobSettings;

/**
 * The train job's settings, validated. Every key, its default and its description live in
 * {@code conf/train.properties}.
 *
 * @param device          where the workers' engines run (the backend, device and CUDA settings)
 * @param sync            how the workers' work meets: {@code driver} (each round's parameters go through the driver),
 *                        {@code barrier} (the workers all-reduce their parameters among themselves in a Spark barrier
 *                        stage) or {@code data-parallel} (they all-reduce every step's gradients there)
 * @param slotWaitSeconds seconds a barrier round waits for the cluster to offer W task slots before it fails (local
 *                        masters fail at once: their slots never change)
 * @param validateEvery   score the validation split after every this many rounds and after the last (0: never;
 *                        barrier sync only)
 * @param validationSequences at most this many sequences of the validation split, the first ones
 * @param validationBatchSize sequences per validation forward
 * @param keepCheckpoints checkpoints kept: the newest this many and the one of the lowest validation loss
 *                        ({@link CheckpointRetention}); 0: every one
 */
public record TrainSettings(String manifest, String model, String runsRoot, String runId, boolean resume, int workers,
                            int localSteps, int rounds, int batchSize, int seqLen, String outerOptimizer,
                            double outerLearningRate, double outerMomentum, boolean averageOptimizerState,
                            int checkpointEvery, int aggregationDepth, long seed, EngineDevice device, String sync,
                            int slotWaitSeconds, int validateEvery, int validationSequences,
                            int validationBatchSize, int keepCheckpoints) {

    public static final String SYNC_DRIVER = "driver";
    public static final String SYNC_BARRIER = "barrier";
    public static final String SYNC_DATA_PARALLEL = "data-parallel";

    /** True when the workers synchronise among themselves in a barrier stage (no parameter vector on the driver). */
    public boolean syncInBarrier() {
        return !sync.equals(SYNC_DRIVER);
    }

    public static TrainSettings from(JobSettings s) {
        s.require(s.integer("workers") >= 1, "workers", "at least 1");
        s.require(s.integer("local-steps") >= 1, "local-steps", "at least 1");
        s.require(s.integer("rounds") >= 1, "rounds", "at least 1");
        s.require(s.integer("batch-size") >= 1, "batch-size", "at least 1");
        s.require(s.integer("seq-len") >= 1, "seq-len", "at least 1");
        String outer = s.string("outer-optimizer");
        s.require(outer.equals("average") || outer.equals("diloco"), "outer-optimizer", "average or diloco");
        s.require(s.number("outer-lr") > 0, "outer-lr", "greater than 0");
        s.require(s.number("outer-momentum") >= 0 && s.number("outer-momentum") < 1, "outer-momentum", "in [0, 1)");
        s.require(s.integer("checkpoint-every") >= 1, "checkpoint-every", "at least 1");
        // A run recorded before the option existed kept every checkpoint.
        int keepCheckpoints = s.has("keep-checkpoints") ? s.integer("keep-checkpoints") : 0;
        s.require(keepCheckpoints >= 0, "keep-checkpoints",
                "at least 0 (0: keep every checkpoint; N: the newest N and the one of the lowest validation loss)");
        s.require(s.integer("aggregation-depth") >= 2, "aggregation-depth", "at least 2 (Spark's treeAggregate)");
        String sync = s.string("sync");
        s.require(sync.equals(SYNC_DRIVER) || sync.equals(SYNC_BARRIER) || sync.equals(SYNC_DATA_PARALLEL), "sync",
                "driver, barrier or data-parallel");
        s.require(!sync.equals(SYNC_DATA_PARALLEL) || outer.equals("average"), "outer-optimizer",
                "average with sync=data-parallel: the workers average every step's gradients and hold the same"
                        + " parameters, so there is no outer step (use sync=barrier for DiLoCo)");
        s.require(sync.equals(SYNC_DRIVER) || !s.bool("average-optimizer-state"), "average-optimizer-state",
                "false unless sync=driver: with sync=barrier each worker's optimiser state stays on its executor, and"
                        + " with data-parallel the workers' states are the same anyway");
        s.require(s.integer("slot-wait-seconds") >= 0, "slot-wait-seconds", "at least 0");
        s.require(s.integer("validate-every") >= 0, "validate-every", "at least 0 (0: no validation during training)");
        s.require(!sync.equals(SYNC_DRIVER) || s.integer("validate-every") == 0, "validate-every",
                "0 with sync=driver: validation during training runs on the workers of a barrier stage; train with"
                        + " --sync barrier (or data-parallel), or score the run afterwards with sparkmoe evaluate");
        s.require(s.integer("validation-sequences") >= 1, "validation-sequences", "at least 1");
        s.require(s.integer("validation-batch-size") >= 0, "validation-batch-size", "at least 0 (0: batch-size)");
        String runId = s.string("run-id", "run-" + java.time.LocalDateTime.now(java.time.ZoneOffset.UTC)
                .format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        s.require(runId.matches("[A-Za-z0-9._-]+") && !runId.startsWith("."), "run-id", "letters, digits, '.', '_' or '-', not starting with '.' (it becomes a directory name)");
        return new TrainSettings(s.string("manifest"), s.string("model"), s.string("runs"), runId, s.bool("resume"),
                s.integer("workers"), s.integer("local-steps"), s.integer("rounds"), s.integer("batch-size"),
                s.integer("seq-len"), outer, s.number("outer-lr"), s.number("outer-momentum"),
                s.bool("average-optimizer-state"), s.integer("checkpoint-every"), s.integer("aggregation-depth"),
                s.longValue("seed"), EngineDevice.fromSettings(s, "train run " + runId), sync,
                s.integer("slot-wait-seconds"), s.integer("validate-every"), s.integer("validation-sequences"),
                s.integer("validation-batch-size") == 0 ? s.integer("batch-size") : s.integer("validation-batch-size"),
                keepCheckpoints);
    }
}
