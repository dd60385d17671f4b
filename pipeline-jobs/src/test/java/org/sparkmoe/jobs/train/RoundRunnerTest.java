package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * The round protocol end to end on a real MiniDFSCluster and Spark local mode with task retries allowed
 * ({@code local[2,4]}), reading real token shards of real corpus documents (byte-level ids, {@link ByteShards})
 * through the shard reader. The engine here is the test-only {@link BigramTrainer}.
 */
class RoundRunnerTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SEQ_LEN = 32;

    private static MiniHdfs hdfs;
    private static SparkSession spark;
    private static ShardTrainingData data;
    private static final BigramTrainer.Factory ENGINE = new BigramTrainer.Factory(11, ByteShards.TOKENIZER_SHA, 1 + 64);

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        spark = SparkSession.builder().master("local[2,4]").appName("train-test")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "localhost").getOrCreate();
        data = dataset("bytes", -1);
    }

    /** A byte-level shard dataset of real documents; with a probe token, every 4th document is made of it. */
    private static ShardTrainingData dataset(String name, int probeToken) throws IOException {
        FileSystem fs = hdfs.fileSystem();
        String manifest = ByteShards.write(fs, new Path(hdfs.uri("/data/" + name)),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 40, 3, probeToken, 4);
        return ShardTrainingData.open(manifest, 7, true, fs.getConf());
    }

    @AfterAll
    static void stop() {
        spark.stop();
        hdfs.close();
    }

    private static TrainSettings settings(String runId, int workers, int localSteps, int rounds, String outer) {
        return new TrainSettings(data.manifestUri(), "test-bigram", hdfs.uri("/runs"), runId, false, workers,
                localSteps, rounds, 4, SEQ_LEN, outer, 0.7, 0.9, false, 2, 2, 11,
                EngineDevice.cpu("RoundRunnerTest"), "driver", 0, 0, 512, 4, 0);
    }

    private static TrainSettings with(TrainSettings s, int rounds, boolean resume) {
        return new TrainSettings(s.manifest(), s.model(), s.runsRoot(), s.runId(), resume, s.workers(), s.localSteps(),
                rounds, s.batchSize(), s.seqLen(), s.outerOptimizer(), s.outerLearningRate(), s.outerMomentum(),
                s.averageOptimizerState(), s.checkpointEvery(), s.aggregationDepth(), s.seed(), s.device(), s.sync(),
                s.slotWaitSeconds(), s.validateEvery(), s.validationSequences(), s.validationBatchSize(), s.keepCheckpoints());
    }

    private static TrainResult train(TrainSettings s, TrainingData d) throws IOException {
        return train(s, d, ENGINE);
    }

    private static TrainResult train(TrainSettings s, TrainingData d, LocalTrainerFactory engine) throws IOException {
        RunDirectory run = RunDirectory.under(s.runsRoot(), s.runId(), hdfs.fileSystem().getConf());
        return new RoundRunner(spark, s, engine, d, run, Map.of("run-id", s.runId())).run();
    }

    private static List<JsonNode> lines(String runId, String file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : MetricsLog.readLines(hdfs.fileSystem(), new Path("/runs/" + runId + "/metrics/" + file))) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    @Test
    void twoWorkersTrainSeveralRoundsLossFallsAndRunDirectoryIsComplete() throws Exception {
        TrainSettings s = settings("w2-diloco", 2, 4, 4, "diloco");
        TrainResult result = train(s, data);

        assertEquals(4, result.rounds().size());
        double first = result.rounds().getFirst().loss();
        double last = result.rounds().getLast().loss();
        assertTrue(last < 0.8 * first, "loss must fall: first round " + first + ", last " + last);

        FileSystem fs = hdfs.fileSystem();
        String root = "/runs/w2-diloco/";
        for (String file : List.of("config.properties", "model.json", "manifest.json", "summary.json",
                "final/parameters.f32", "final/bigram.txt", "checkpoints/round-000002/parameters.f32",
                "checkpoints/round-000004/outer-optimizer.f32", "checkpoints/round-000004/worker-0001.f32",
                "checkpoints/round-000004/state.json")) {
            assertTrue(fs.exists(new Path(root + file)), "run directory lacks " + file);
        }
        assertEquals(VectorFiles.readText(fs, new Path(data.manifestUri())), VectorFiles.readText(fs, new Path(root + "manifest.json")));
        assertTrue(VectorFiles.readText(fs, new Path(root + "checkpoints/round-000004/state.json")).contains("epoch="),
                "checkpoints hold each worker's reader state");
        assertArrayEquals(result.params_P(), VectorFiles.read(fs, new Path(root + "final/parameters.f32")));

        List<JsonNode> rounds = lines("w2-diloco", "rounds.jsonl");
        List<JsonNode> steps = lines("w2-diloco", "steps.jsonl");
        assertEquals(4, rounds.size());
        assertEquals(4 * 2 * 4, steps.size());
        for (String key : List.of("loss", "aux_losses", "learning_rate", "grad_norm", "tokens_per_second",
                "overhead_share", "experts", "contributing_workers", "skipped_steps")) {
            assertTrue(rounds.getFirst().has(key), "round metrics lack " + key);
        }
        assertEquals(2 * 4 * 4 * SEQ_LEN, rounds.getFirst().path("tokens").asLong());
        // The round's loss is the mean of its workers' step losses, as the step lines show them.
        double meanOfSteps = steps.stream().filter(l -> l.path("round").asInt() == 0)
                .mapToDouble(l -> l.path("loss").asDouble()).average().orElseThrow();
        assertEquals(meanOfSteps, rounds.getFirst().path("loss").asDouble(), 1e-12);
        JsonNode summary = JSON.readTree(VectorFiles.readText(fs, new Path(root + "summary.json")));
        assertEquals(4L * 2 * 4 * 4 * SEQ_LEN, summary.path("total_tokens").asLong());
        // Only the last round's worker states remain outside the checkpoints.
        assertEquals(1, fs.listStatus(new Path(root + "workers")).length);
    }

    @Test
    void oneWorkerOneLocalStepEqualsTheEnginesOwnLoop() throws Exception {
        int steps = 6;
        TrainResult result = train(settings("w1-h1", 1, 1, steps, "average"), data);

        float[] expected = new float[BigramTrainer.V * BigramTrainer.V];
        List<Double> losses = new ArrayList<>();
        try (LocalTrainer engine = ENGINE.create(ComputeDevice.CPU);
             TrainingData.TokenStream stream = data.open(0, 1, SEQ_LEN, null)) {
            for (int i = 0; i < steps; i++) {
                losses.add(engine.step(stream.next(4), 4, SEQ_LEN + 1).loss());
            }
            engine.readParameters(expected);
        }
        assertArrayEquals(expected, result.params_P(), "W=1, H=1 must be bit-identical to the engine's loop");
        assertEquals(losses, result.rounds().stream().map(RoundSummary::loss).toList());
    }

    @Test
    void resumeGivesTheSameLossCurveAndParametersAsAnUninterruptedRun() throws Exception {
        TrainSettings whole = settings("uninterrupted", 2, 3, 4, "diloco");
        TrainResult uninterrupted = train(whole, data);

        TrainSettings part = settings("interrupted", 2, 3, 3, "diloco");
        train(part, data);
        // A crash after round 3 but before its checkpoint: only round 2's checkpoint is complete.
        hdfs.fileSystem().delete(new Path("/runs/interrupted/checkpoints/round-000003"), true);
        TrainResult resumed = train(with(part, 4, true), data);

        assertEquals(2, resumed.rounds().size(), "the resumed invocation runs rounds 3 and 4");
        assertArrayEquals(uninterrupted.params_P(), resumed.params_P(), "resume must be bit-identical on the CPU");
        List<Double> a = lines("uninterrupted", "rounds.jsonl").stream().map(l -> l.path("loss").asDouble()).toList();
        List<Double> b = lines("interrupted", "rounds.jsonl").stream().map(l -> l.path("loss").asDouble()).toList();
        assertEquals(a, b);
        assertEquals(lines("uninterrupted", "steps.jsonl").size(), lines("interrupted", "steps.jsonl").size());
    }

    @Test
    void keepCheckpointsKeepsTheNewestOnesAndTheRunResumesFromThem() throws Exception {
        // Checkpoints after every round, the newest two kept (no validation on this path: no lowest loss to keep).
        TrainSettings kept = new TrainSettings(data.manifestUri(), "test-bigram", hdfs.uri("/runs"), "kept-two", false,
                1, 1, 4, 4, SEQ_LEN, "average", 0.7, 0.9, false, 1, 2, 11,
                EngineDevice.cpu("RoundRunnerTest"), "driver", 0, 0, 512, 4, 2);
        train(kept, data);
        assertEquals(List.of("round-000003", "round-000004"), checkpointNames("kept-two"));
        TrainResult resumed = train(with(kept, 5, true), data);
        assertEquals(1, resumed.rounds().size(), "resumed from round-000004");
        assertEquals(List.of("round-000004", "round-000005"), checkpointNames("kept-two"));

        UsageException negative = assertThrows(UsageException.class, () -> TrainSettings.from(
                org.sparkmoe.jobs.cli.JobSettings.resolve(new TrainJob(), List.of("--manifest", data.manifestUri(),
                        "--keep-checkpoints", "-1"))));
        assertTrue(negative.getMessage().contains("keep-checkpoints=-1"), negative.getMessage());
    }

    private static List<String> checkpointNames(String runId) throws IOException {
        List<String> names = new ArrayList<>();
        for (var status : hdfs.fileSystem().listStatus(new Path("/runs/" + runId + "/checkpoints"))) {
            names.add(status.getPath().getName());
        }
        return names.stream().sorted().toList();
    }

    @Test
    void averagingTheOptimizerStateOfOneWorkerChangesNothingAndIsCheckpointed() throws Exception {
        TrainSettings local = settings("w1-local-state", 1, 2, 3, "average");
        TrainSettings averaged = new TrainSettings(data.manifestUri(), "test-bigram", hdfs.uri("/runs"), "w1-averaged-state",
                false, 1, 2, 3, 4, SEQ_LEN, "average", 0.7, 0.9, true, 2, 2, 11,
                EngineDevice.cpu("RoundRunnerTest"), "driver", 0, 0, 512, 4, 0);
        assertArrayEquals(train(local, data).params_P(), train(averaged, data).params_P(),
                "the mean of one worker's optimiser state is that state");
        assertTrue(hdfs.fileSystem().exists(new Path("/runs/w1-averaged-state/checkpoints/round-000002/optimizer-average.f32")));
    }

    @Test
    void aTaskThatFailsOnceIsRetriedAndItsUpdateCountsOnce() throws Exception {
        TrainSettings clean = settings("no-failure", 2, 2, 3, "diloco");
        TrainResult expected = train(clean, data);
        TrainResult retried = train(settings("fail-once", 2, 2, 3, "diloco"), data,
                new FaultInjectingFactory(ENGINE, FaultInjectingFactory.Fault.FAIL_AFTER_TASK, 0, -1));

        assertArrayEquals(expected.params_P(), retried.params_P());
        for (RoundSummary round : retried.rounds()) {
            assertEquals(1, round.retriedTasks(), "partition 0 fails on its first attempt in every round");
            assertEquals(2, round.contributors(), "each worker's update counts exactly once");
            assertEquals(2L * 2 * 4 * SEQ_LEN, round.tokens());
        }
    }

    @Test
    void aNonFiniteWorkerIsLeftOutAndASkippedStepIsReported() throws Exception {
        TrainResult poisoned = train(settings("non-finite", 2, 2, 4, "average"), dataset("poison", BigramTrainer.POISON_TOKEN));
        int excluded = 0;
        for (RoundSummary round : poisoned.rounds()) {
            assertEquals(2, round.contributors() + round.excludedWorkers());
            excluded += round.excludedWorkers();
        }
        assertTrue(excluded >= 1, "a quarter of the documents poison worker 0 when it reads them");
        for (float v : poisoned.params_P()) {
            assertTrue(Float.isFinite(v), "a non-finite worker must not reach the global parameters");
        }
        assertEquals(excluded, lines("non-finite", "rounds.jsonl").stream().mapToInt(l -> l.path("excluded_workers").asInt()).sum());

        TrainResult skipped = train(settings("skipped-step", 2, 4, 2, "average"), dataset("skip", BigramTrainer.SKIP_TOKEN));
        long skippedSteps = skipped.rounds().stream().mapToLong(RoundSummary::skippedSteps).sum();
        assertTrue(skippedSteps >= 1, "a quarter of the documents make the step that reads them non-finite");
        List<JsonNode> steps = lines("skipped-step", "steps.jsonl");
        assertEquals(skippedSteps, steps.stream().filter(l -> !l.path("applied").asBoolean()).count());
        for (RoundSummary round : skipped.rounds()) {
            double finiteMean = steps.stream().filter(l -> l.path("round").asInt() == round.round())
                    .filter(l -> l.path("applied").asBoolean()).mapToDouble(l -> l.path("loss").asDouble())
                    .average().orElse(Double.NaN);
            assertEquals(finiteMean, round.loss(), 1e-12, "the round's loss averages only the finite steps");
        }
    }

    @Test
    void badInputStopsAtOnceWithAMessageThatNamesIt() throws Exception {
        ShardTrainingData otherTokenizer = new ShardTrainingData(data.manifestUri(), "deepseek-v3-sha", data.vocabSize(),
                data.tokens(), data.seed());
        UsageException tokenizer = assertThrows(UsageException.class,
                () -> train(settings("bad-tokenizer", 2, 1, 1, "average"), otherTokenizer));
        assertTrue(tokenizer.getMessage().contains(data.manifestUri()) && tokenizer.getMessage().contains("deepseek-v3-sha"),
                tokenizer.getMessage());

        long sequences = data.sequenceCount(64);
        TrainSettings tooFew = new TrainSettings(data.manifestUri(), "test-bigram", hdfs.uri("/runs"), "too-few", false,
                2, 1, 1, (int) (sequences / 2 + 1), 64, "average", 0.7, 0.9, false, 2, 2, 11,
                EngineDevice.cpu("RoundRunnerTest"), "driver", 0, 0, 512, 4, 0);
        UsageException seqLen = assertThrows(UsageException.class, () -> train(tooFew, data));
        assertTrue(seqLen.getMessage().contains("seq-len=64") && seqLen.getMessage().contains(data.manifestUri())
                && seqLen.getMessage().contains(sequences + " sequences"), seqLen.getMessage());

        TrainSettings tooLong = new TrainSettings(data.manifestUri(), "test-bigram", hdfs.uri("/runs"), "too-long", false,
                2, 1, 1, 4, 100, "average", 0.7, 0.9, false, 2, 2, 11,
                EngineDevice.cpu("RoundRunnerTest"), "driver", 0, 0, 512, 4, 0);
        UsageException model = assertThrows(UsageException.class, () -> train(tooLong, data));
        assertTrue(model.getMessage().contains("seq-len=100") && model.getMessage().contains("test-bigram"), model.getMessage());

        ShardTrainingData bigVocab = new ShardTrainingData(data.manifestUri(), data.tokenizerHash(), 129_280,
                data.tokens(), data.seed());
        UsageException vocab = assertThrows(UsageException.class, () -> train(settings("big-vocab", 2, 1, 1, "average"), bigVocab));
        assertTrue(vocab.getMessage().contains("129280"), vocab.getMessage());

        train(settings("exists", 2, 1, 1, "average"), data);
        UsageException exists = assertThrows(UsageException.class, () -> train(settings("exists", 2, 1, 1, "average"), data));
        assertTrue(exists.getMessage().contains("/runs/exists") && exists.getMessage().contains("--resume"), exists.getMessage());

        TrainSettings otherWorkers = with(settings("exists", 3, 1, 2, "average"), 2, true);
        UsageException workers = assertThrows(UsageException.class, () -> train(otherWorkers, data));
        assertTrue(workers.getMessage().contains("checkpoints/round-000001") && workers.getMessage().contains("workers"),
                workers.getMessage());
        TrainSettings otherOuter = with(settings("exists", 2, 1, 2, "diloco"), 2, true);
        UsageException outer = assertThrows(UsageException.class, () -> train(otherOuter, data));
        assertTrue(outer.getMessage().contains("outer-optimizer=average"), outer.getMessage());

        ShardTrainingData retokenized = new ShardTrainingData(data.manifestUri(), "other-tokenizer-sha", data.vocabSize(),
                data.tokens(), data.seed());
        BigramTrainer.Factory retokenizedModel = new BigramTrainer.Factory(11, "other-tokenizer-sha", 1 + 64);
        UsageException resumeTokenizer = assertThrows(UsageException.class,
                () -> train(with(settings("exists", 2, 1, 2, "average"), 2, true), retokenized, retokenizedModel));
        assertTrue(resumeTokenizer.getMessage().contains("other-tokenizer-sha")
                && resumeTokenizer.getMessage().contains(ByteShards.TOKENIZER_SHA), resumeTokenizer.getMessage());

        UsageException noCheckpoint = assertThrows(UsageException.class,
                () -> train(with(settings("never-started", 2, 1, 1, "average"), 1, true), data));
        assertTrue(noCheckpoint.getMessage().contains("/runs/never-started"), noCheckpoint.getMessage());
    }
}
