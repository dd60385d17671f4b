package org.sparkmoe.jobs.train;

import org.sparkmoe.jobs.cli.JobSettings;

/**
 * The train job's settings, validated. Every key, its default and its description live in
 * {@code conf/train.properties}.
 *
 * @param device where the workers' engines run (the backend, device and CUDA settings)
 */
public record TrainSettings(String manifest, String model, String runsRoot, String runId, boolean resume, int workers,
                           int localSteps, int rounds, int batchSize, int seqLen, String outerOptimizer,
                           double outerLearningRate, double outerMomentum, boolean averageOptimizerState,
                           int checkpointEvery, int aggregationDepth, long seed, EngineDevice device) {

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
        s.require(s.integer("aggregation-depth") >= 2, "aggregation-depth", "at least 2 (Spark's treeAggregate)");
        String runId = s.string("run-id", "run-" + java.time.LocalDateTime.now(java.time.ZoneOffset.UTC)
                .format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        s.require(runId.matches("[A-Za-z0-9._-]+") && !runId.startsWith("."), "run-id", "letters, digits, '.', '_' or '-', not starting with '.' (it becomes a directory name)");
        return new TrainSettings(s.string("manifest"), s.string("model"), s.string("runs"), runId, s.bool("resume"),
                s.integer("workers"), s.integer("local-steps"), s.integer("rounds"), s.integer("batch-size"),
                s.integer("seq-len"), outer, s.number("outer-lr"), s.number("outer-momentum"),
                s.bool("average-optimizer-state"), s.integer("checkpoint-every"), s.integer("aggregation-depth"),
                s.longValue("seed"), EngineDevice.fromSettings(s, "train run " + runId));
    }
}
