package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * {@code sync=barrier} and {@code sync=data-parallel} end to end: Spark barrier stages in local mode ({@code local[3]}),
 * the workers all-reducing over TCP among themselves, run directories on a MiniDFSCluster, real token shards of
 * corpus documents, the test-only {@link BigramTrainer}. Each is held against the driver path ({@code sync=driver})
 * on the same inputs:
 *
 * <ul>
 *   <li>W = 1: identical (one worker's average is itself);</li>
 *   <li>W = 2: identical too. The ring adds the two workers' fp32 values once, which rounds the exact sum to fp32;
 *   the driver sums them exactly in fp64 and rounds the mean to fp32; halving is exact, so both means are the same
 *   float, and every later step sees the same inputs;</li>
 *   <li>W = 3: the ring's partial sums are rounded twice, so a round's mean may differ from the driver's by
 *   (W+1)·2⁻²⁴·max|x| (docs/training.md); after a few rounds of training the parameters agree to {@link #W3_TOLERANCE}.</li>
 * </ul>
 */
class BarrierTrainTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SEQ_LEN = 32;
    /** Largest parameter difference allowed between barrier and driver runs of three workers after a few rounds. */
    private static final double W3_TOLERANCE = 1e-6;

    private static MiniHdfs hdfs;
    private static SparkSession spark;
    private static ShardTrainingData data;
    private static final BigramTrainer.Factory ENGINE = new BigramTrainer.Factory(11, ByteShards.TOKENIZER_SHA, 1 + 64);

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        spark = SparkSession.builder().master("local[3]").appName("barrier-test")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "localhost").getOrCreate();
        data = dataset("bytes", -1);
    }

    private static ShardTrainingData dataset(String name, int probeToken) throws IOException {
        FileSystem fs = hdfs.fileSystem();
        String manifest = ByteShards.write(fs, new Path(hdfs.uri("/data/" + name)),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 60, 3, probeToken, 4);
        return ShardTrainingData.open(manifest, 7, true, fs.getConf());
    }

    @AfterAll
    static void stop() {
        spark.stop();
        hdfs.close();
    }

    private static TrainSettings settings(String runId, int workers, int localSteps, int rounds, String outer,
                                          String sync) {
        return new TrainSettings(data.manifestUri(), "test-bigram", hdfs.uri("/runs"), runId, false, workers,
                localSteps, rounds, 4, SEQ_LEN, outer, 0.7, 0.9, false, 2, 2, 11, EngineDevice.cpu(runId), sync, 0, 0, 512, 4, 0);
    }

    private static TrainSettings resumed(TrainSettings s, int rounds) {
        return new TrainSettings(s.manifest(), s.model(), s.runsRoot(), s.runId(), true, s.workers(), s.localSteps(),
                rounds, s.batchSize(), s.seqLen(), s.outerOptimizer(), s.outerLearningRate(), s.outerMomentum(),
                s.averageOptimizerState(), s.checkpointEvery(), s.aggregationDepth(), s.seed(), s.device(), s.sync(),
                s.slotWaitSeconds(), s.validateEvery(), s.validationSequences(), s.validationBatchSize(), s.keepCheckpoints());
    }

    private static TrainResult train(TrainSettings s, TrainingData d, LocalTrainerFactory engine) throws IOException {
        RunDirectory run = RunDirectory.under(s.runsRoot(), s.runId(), hdfs.fileSystem().getConf());
        return new RoundRunner(spark, s, engine, d, run, Map.of("run-id", s.runId(), "sync", s.sync())).run();
    }

    private static float[] file(String runId, String relative) throws IOException {
        return VectorFiles.read(hdfs.fileSystem(), new Path("/runs/" + runId + "/" + relative));
    }

    private static List<JsonNode> lines(String runId, String file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : MetricsLog.readLines(hdfs.fileSystem(), new Path("/runs/" + runId + "/metrics/" + file))) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    private static List<Double> losses(String runId) throws IOException {
        return lines(runId, "rounds.jsonl").stream().map(l -> l.path("loss").asDouble()).toList();
    }

    private static Set<String> fields(JsonNode line) {
        Set<String> names = new TreeSet<>();
        for (Iterator<String> it = line.fieldNames(); it.hasNext(); ) {
            names.add(it.next());
        }
        return names;
    }

    /** Every file of the run directory, relative to it. */
    private static Set<String> files(String runId) throws IOException {
        Set<String> out = new TreeSet<>();
        Path root = hdfs.fileSystem().makeQualified(new Path("/runs/" + runId));
        var it = hdfs.fileSystem().listFiles(root, true);
        while (it.hasNext()) {
            out.add(it.next().getPath().toString().substring(root.toString().length() + 1));
        }
        return out;
    }

    @Test
    void oneWorkerInABarrierStageIsTheDriverPathBitForBit() throws Exception {
        for (String outer : List.of("average", "diloco")) {
            TrainResult driver = train(settings("w1-driver-" + outer, 1, 2, 3, outer, "driver"), data, ENGINE);
            TrainResult barrier = train(settings("w1-barrier-" + outer, 1, 2, 3, outer, "barrier"), data, ENGINE);
            assertNull(barrier.params_P(), "the driver never holds the vector");
            assertArrayEquals(driver.params_P(), file("w1-barrier-" + outer, "final/parameters.f32"), outer);
            assertEquals(losses("w1-driver-" + outer), losses("w1-barrier-" + outer));
        }
    }

    @Test
    void twoWorkersAllReducingAmongThemselvesGiveTheDriverPathsParametersCheckpointsAndMetrics() throws Exception {
        TrainResult driver = train(settings("w2-driver", 2, 3, 4, "diloco", "driver"), data, ENGINE);
        TrainResult barrier = train(settings("w2-barrier", 2, 3, 4, "diloco", "barrier"), data, ENGINE);

        assertArrayEquals(driver.params_P(), file("w2-barrier", "final/parameters.f32"),
                "two fp32 addends: the ring's sum is the driver's fp64 sum rounded");
        for (String vector : List.of("parameters.f32", "outer-optimizer.f32", "worker-0000.f32", "worker-0001.f32")) {
            assertArrayEquals(file("w2-driver", "checkpoints/round-000002/" + vector),
                    file("w2-barrier", "checkpoints/round-000002/" + vector), vector);
        }
        assertEquals(losses("w2-driver"), losses("w2-barrier"));
        assertEquals(fields(lines("w2-driver", "rounds.jsonl").getFirst()), fields(lines("w2-barrier", "rounds.jsonl").getFirst()));
        assertEquals(fields(lines("w2-driver", "steps.jsonl").getFirst()), fields(lines("w2-barrier", "steps.jsonl").getFirst()));
        assertEquals(lines("w2-driver", "steps.jsonl").size(), lines("w2-barrier", "steps.jsonl").size());
        for (RoundSummary round : barrier.rounds()) {
            assertEquals(2, round.contributors());
            assertEquals(0, round.retriedTasks());
            assertEquals(0, round.replayedRounds());
        }
        // The same files, except the per-round worker state files the driver path keeps (barrier ranks hold theirs).
        Set<String> driverFiles = files("w2-driver");
        driverFiles.removeIf(f -> f.startsWith("workers/"));
        assertEquals(driverFiles, files("w2-barrier"));
        assertEquals(List.of(2, 4), checkpoints("w2-barrier"), "keep-checkpoints=0 keeps every checkpoint");
        JsonNode summary = JSON.readTree(VectorFiles.readText(hdfs.fileSystem(), new Path("/runs/w2-barrier/summary.json")));
        assertEquals("barrier", summary.path("sync").asText());
        assertEquals(0, summary.path("replayed_rounds").asInt());
    }

    @Test
    void threeWorkersStayWithinTheRingsRoundingOfTheDriverPath() throws Exception {
        TrainResult driver = train(settings("w3-driver", 3, 2, 3, "diloco", "driver"), data, ENGINE);
        train(settings("w3-barrier", 3, 2, 3, "diloco", "barrier"), data, ENGINE);
        float[] barrier = file("w3-barrier", "final/parameters.f32");
        double maxDiff = 0;
        for (int i = 0; i < barrier.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(barrier[i] - driver.params_P()[i]));
        }
        System.out.println("W=3 barrier vs driver after 3 rounds: max |difference| " + maxDiff);
        assertTrue(maxDiff <= W3_TOLERANCE, "W=3: barrier and driver parameters differ by " + maxDiff);
    }

    @Test
    void aNonFiniteWorkerIsLeftOutOfTheAllReduceAsOfTheDriversAverage() throws Exception {
        ShardTrainingData poisoned = dataset("poison", BigramTrainer.POISON_TOKEN);
        TrainResult driver = train(settings("poison-driver", 2, 2, 4, "average", "driver"), poisoned, ENGINE);
        TrainResult barrier = train(settings("poison-barrier", 2, 2, 4, "average", "barrier"), poisoned, ENGINE);
        assertArrayEquals(driver.params_P(), file("poison-barrier", "final/parameters.f32"));
        assertEquals(driver.rounds().stream().map(RoundSummary::excludedWorkers).toList(),
                barrier.rounds().stream().map(RoundSummary::excludedWorkers).toList());
        assertTrue(barrier.rounds().stream().mapToInt(RoundSummary::excludedWorkers).sum() >= 1);

        // With every worker diverged the driver keeps its parameters; the ranks hold none beside their trainers.
        TrainResult alone = train(settings("poison-driver-w1", 1, 2, 4, "average", "driver"), poisoned, ENGINE);
        assertTrue(alone.rounds().stream().anyMatch(r -> r.contributors() == 0));
        IllegalStateException stopped = assertThrows(IllegalStateException.class,
                () -> train(settings("poison-barrier-w1", 1, 2, 4, "average", "barrier"), poisoned, ENGINE));
        assertTrue(stopped.getMessage().contains("no worker has finite parameters after its local steps")
                && stopped.getMessage().contains("Resume from the last checkpoint"), stopped.getMessage());
    }

    @Test
    void dataParallelWorkersApplyTheWholeBatchesMeanGradientInLockstep() throws Exception {
        int workers = 2;
        int localSteps = 2;
        int rounds = 3;
        TrainResult result = train(settings("dp", workers, localSteps, rounds, "average", "data-parallel"), data, ENGINE);

        // The reference: one trainer stepping on both workers' batches at once (the same rows, the same order).
        float[] expected = new float[BigramTrainer.V * BigramTrainer.V];
        try (LocalTrainer one = ENGINE.create(ComputeDevice.CPU);
             TrainingData.TokenStream first = data.open(0, workers, SEQ_LEN, null);
             TrainingData.TokenStream second = data.open(1, workers, SEQ_LEN, null)) {
            for (int step = 0; step < rounds * localSteps; step++) {
                int[] a = first.next(4);
                int[] b = second.next(4);
                int[] both = new int[a.length + b.length];
                System.arraycopy(a, 0, both, 0, a.length);
                System.arraycopy(b, 0, both, a.length, b.length);
                one.step(both, 8, SEQ_LEN + 1);
            }
            one.readParameters(expected);
        }
        float[] trained = file("dp", "final/parameters.f32");
        double maxDiff = 0;
        for (int i = 0; i < expected.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - trained[i]));
        }
        // The mean of the halves' mean gradients is the whole batch's; only fp32 summation order differs.
        assertTrue(maxDiff < 1e-5, "data parallel vs one trainer on the whole batch: " + maxDiff);
        assertArrayEquals(file("dp", "checkpoints/round-000002/worker-0000.f32"),
                file("dp", "checkpoints/round-000002/worker-0001.f32"), "the workers' optimiser states are the same");
        for (RoundSummary round : result.rounds()) {
            assertEquals(2L * localSteps * 4 * SEQ_LEN, round.tokens());
        }
        // Both workers see the same (global) gradient norm at every step.
        List<JsonNode> steps = lines("dp", "steps.jsonl");
        for (JsonNode line : steps) {
            JsonNode twin = steps.stream().filter(l -> l.path("global_step").asLong() == line.path("global_step").asLong()
                    && l.path("worker").asInt() != line.path("worker").asInt()).findFirst().orElseThrow();
            assertEquals(line.path("grad_norm").asDouble(), twin.path("grad_norm").asDouble());
        }
    }

    @Test
    void resumingABarrierRunFromItsCheckpointEqualsAnUninterruptedRun() throws Exception {
        train(settings("barrier-whole", 2, 3, 4, "diloco", "barrier"), data, ENGINE);
        TrainSettings part = settings("barrier-interrupted", 2, 3, 3, "diloco", "barrier");
        train(part, data, ENGINE);
        hdfs.fileSystem().delete(new Path("/runs/barrier-interrupted/checkpoints/round-000003"), true);
        TrainResult resumed = train(resumed(part, 4), data, ENGINE);

        assertEquals(2, resumed.rounds().size(), "the resumed invocation runs rounds 3 and 4");
        assertArrayEquals(file("barrier-whole", "final/parameters.f32"), file("barrier-interrupted", "final/parameters.f32"));
        assertEquals(losses("barrier-whole"), losses("barrier-interrupted"));
        assertEquals(lines("barrier-whole", "steps.jsonl").size(), lines("barrier-interrupted", "steps.jsonl").size());
    }

    @Test
    void aFailedBarrierStageIsRetriedAndEveryUpdateCountsOnce() throws Exception {
        train(settings("retry-clean", 2, 2, 3, "diloco", "barrier"), data, ENGINE);
        float[] clean = file("retry-clean", "final/parameters.f32");
        for (FaultInjectingFactory.Fault fault : List.of(FaultInjectingFactory.Fault.FAIL_DURING_STEPS,
                FaultInjectingFactory.Fault.FAIL_AFTER_TASK)) {
            String runId = "retry-" + fault.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
            TrainResult retried = train(settings(runId, 2, 2, 3, "diloco", "barrier"), data,
                    new FaultInjectingFactory(ENGINE, fault, 0, -1));
            assertArrayEquals(clean, file(runId, "final/parameters.f32"), fault + ": each round's update applied once");
            assertEquals(losses("retry-clean"), losses(runId));
            for (RoundSummary round : retried.rounds()) {
                assertEquals(2, round.retriedTasks(), fault + ": a barrier stage is retried whole, both of its tasks");
                assertEquals(2, round.contributors());
                // Failing mid-steps leaves every trainer mid-round: the ranks replay from the last checkpoint (every 2
                // rounds here). Failing after the all-reduce leaves the finished round held.
                int replays = fault == FaultInjectingFactory.Fault.FAIL_DURING_STEPS ? round.round() % 2 : 0;
                assertEquals(replays, round.replayedRounds(), fault + ": rounds replayed before round " + round.round());
            }
        }
    }

    private static TrainSettings validated(TrainSettings s, int every, int sequences, int batchSize) {
        return new TrainSettings(s.manifest(), s.model(), s.runsRoot(), s.runId(), s.resume(), s.workers(),
                s.localSteps(), s.rounds(), s.batchSize(), s.seqLen(), s.outerOptimizer(), s.outerLearningRate(),
                s.outerMomentum(), s.averageOptimizerState(), s.checkpointEvery(), s.aggregationDepth(), s.seed(),
                s.device(), s.sync(), s.slotWaitSeconds(), every, sequences, batchSize, s.keepCheckpoints());
    }

    private static List<Double> validationLosses(String runId) throws IOException {
        return lines(runId, "rounds.jsonl").stream()
                .map(l -> l.has("validation_loss") ? l.path("validation_loss").asDouble() : null).toList();
    }

    @Test
    void theRanksShareOfTheValidationSequencesAddUpToTheFinalParametersScoreAndSurviveARetry() throws Exception {
        int sequences = 11;
        TrainResult result = train(validated(settings("validated-w2", 2, 2, 3, "diloco", "barrier"), 2, sequences, 4),
                data, ENGINE);
        List<Double> losses = validationLosses("validated-w2");
        assertNull(losses.get(0), "no validation after round 0 of 3 with validate-every=2");
        assertTrue(losses.get(1) != null && losses.get(2) != null, "after round 1 (every 2) and the last: " + losses);
        assertNull(result.rounds().get(0).validation());
        assertEquals(sequences * (long) SEQ_LEN, result.rounds().get(2).validation().tokens());

        // One trainer with the final parameters scoring the same sequences in one batch: rank 0 scored 5 of them,
        // rank 1 the other 6.
        double expected;
        try (LocalTrainer one = ENGINE.create(ComputeDevice.CPU);
             org.sparkmoe.jobs.shards.TokenDataset validation = org.sparkmoe.jobs.shards.TokenDataset.open(
                     data.manifestUri(), "validation", SEQ_LEN, hdfs.fileSystem().getConf(), false)) {
            one.writeParameters(file("validated-w2", "final/parameters.f32"));
            int[] rows = new int[sequences * (SEQ_LEN + 1)];
            for (int s = 0; s < sequences; s++) {
                validation.readSequence(s, rows, s * (SEQ_LEN + 1));
            }
            expected = one.evaluate(rows, sequences, SEQ_LEN + 1).loss();
        }
        assertEquals(expected, losses.get(2), 1e-9 * expected);

        // Scoring leaves training as it was.
        train(settings("unvalidated-w2", 2, 2, 3, "diloco", "barrier"), data, ENGINE);
        assertArrayEquals(file("unvalidated-w2", "final/parameters.f32"), file("validated-w2", "final/parameters.f32"));
        assertEquals(losses("unvalidated-w2"), losses("validated-w2"));

        // A stage retried after its round finished reports the round it holds, validation included.
        train(validated(settings("validated-retry", 2, 2, 3, "diloco", "barrier"), 2, sequences, 4), data,
                new FaultInjectingFactory(ENGINE, FaultInjectingFactory.Fault.FAIL_AFTER_TASK, 0, -1));
        assertEquals(losses, validationLosses("validated-retry"));
    }

    @Test
    void keepCheckpointsKeepsTheNewestAndTheLowestValidationLossAlsoAcrossAResume() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        // Four short documents, repeated: the bigram table learns them by heart, so after a few rounds the held-out
        // loss rises again and the lowest is no longer the newest round's.
        ShardTrainingData small = ShardTrainingData.open(ByteShards.write(fs, new Path(hdfs.uri("/data/fortunes")),
                SharedData.trainCorpus().resolve("en_fortunes.jsonl"), 4, 1, -1, 1), 7, true, fs.getConf());
        TrainSettings part = kept(validated(settings("kept", 1, 10, 12, "average", "barrier"), 1, 16, 4), 1);
        train(part, small, ENGINE);
        int lowest = lowestValidated("kept");
        System.out.println("validation losses " + validationLosses("kept") + ", lowest after round " + lowest);
        assertTrue(lowest < 12, "the run over-fits its four documents: " + validationLosses("kept"));
        assertEquals(List.of(lowest, 12), checkpoints("kept"), "the lowest validation loss and the newest");

        // Resumed, the run still knows the losses of the rounds before it: the lowest stays, whatever comes after.
        train(resumed(part, 15), small, ENGINE);
        assertEquals(lowest, lowestValidated("kept"), "the held-out loss keeps rising: " + validationLosses("kept"));
        assertEquals(2, fs.listStatus(new Path("/runs/kept/checkpoints")).length, "no staging directory is left");
        assertEquals(List.of(lowest, 15), checkpoints("kept"));
    }

    /** The rounds completed at the lowest validation loss of a run validated after every round. */
    private static int lowestValidated(String runId) throws IOException {
        List<Double> losses = validationLosses(runId);
        int lowest = 0;
        for (int r = 1; r < losses.size(); r++) {
            lowest = losses.get(r) < losses.get(lowest) ? r : lowest;
        }
        return lowest + 1;
    }

    private static TrainSettings kept(TrainSettings s, int keep) {
        return new TrainSettings(s.manifest(), s.model(), s.runsRoot(), s.runId(), s.resume(), s.workers(),
                s.localSteps(), s.rounds(), s.batchSize(), s.seqLen(), s.outerOptimizer(), s.outerLearningRate(),
                s.outerMomentum(), s.averageOptimizerState(), 1, s.aggregationDepth(), s.seed(), s.device(), s.sync(),
                s.slotWaitSeconds(), s.validateEvery(), s.validationSequences(), s.validationBatchSize(), keep);
    }

    /** The rounds of the complete checkpoints a run has. */
    private static List<Integer> checkpoints(String runId) throws IOException {
        List<Integer> rounds = new ArrayList<>();
        for (FileStatus status : hdfs.fileSystem().listStatus(new Path("/runs/" + runId + "/checkpoints"))) {
            rounds.add(Integer.parseInt(status.getPath().getName().substring("round-".length())));
        }
        return rounds.stream().sorted().toList();
    }

    @Test
    void aBarrierStageThatCannotGetAllItsSlotsFailsAtOnceSayingWhichSettingsGiveThem() throws Exception {
        UsageException tooMany = assertThrows(UsageException.class,
                () -> train(settings("four-on-three", 4, 1, 1, "average", "barrier"), data, ENGINE));
        String message = tooMany.getMessage();
        assertTrue(message.contains("4 workers") && message.contains("local[3] offers 3 task slots")
                && message.contains("[SPARK-24819]") && message.contains("spark.executor.cores / spark.task.cpus")
                && message.contains("spark.task.resource.gpu.amount"), message);
        FileStatus[] metrics = hdfs.fileSystem().listStatus(new Path("/runs/four-on-three/metrics"));
        assertTrue(metrics.length == 0 || hdfs.fileSystem().getFileStatus(new Path("/runs/four-on-three/metrics/rounds.jsonl"))
                .getLen() == 0, "no round ran");
    }

    @Test
    void settingsThatMeanNothingForTheChosenSyncAreRefused() {
        List<String> base = List.of("--manifest", data.manifestUri(), "--runs", hdfs.uri("/runs"));
        UsageException diloco = assertThrows(UsageException.class, () -> TrainSettings.from(JobSettings.resolve(
                new TrainJob(), concat(base, "--sync", "data-parallel", "--outer-optimizer", "diloco"))));
        assertTrue(diloco.getMessage().contains("outer-optimizer=diloco") && diloco.getMessage().contains("no outer step"),
                diloco.getMessage());
        UsageException averaged = assertThrows(UsageException.class, () -> TrainSettings.from(JobSettings.resolve(
                new TrainJob(), concat(base, "--sync", "barrier", "--average-optimizer-state", "true"))));
        assertTrue(averaged.getMessage().contains("average-optimizer-state=true"), averaged.getMessage());
        UsageException unknown = assertThrows(UsageException.class, () -> TrainSettings.from(JobSettings.resolve(
                new TrainJob(), concat(base, "--sync", "allreduce"))));
        assertTrue(unknown.getMessage().contains("sync=allreduce") && unknown.getMessage().contains("data-parallel"),
                unknown.getMessage());
    }

    private static List<String> concat(List<String> base, String... more) {
        List<String> out = new ArrayList<>(base);
        out.addAll(List.of(more));
        return out;
    }
}
