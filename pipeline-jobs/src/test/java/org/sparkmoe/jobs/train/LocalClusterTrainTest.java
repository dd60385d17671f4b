package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.spark.ExecutorLostFailure;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.testing.LocalCluster;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.GemmPrecision;
import org.sparkmoe.model.backend.cuda.GroupedGemmPath;

/**
 * The trainer on a cluster whose executors are separate JVMs: Spark's {@code local-cluster[2,1,1024]}
 * ({@link LocalCluster}) runs a standalone master and two workers in this JVM, and each worker launches its executor
 * as a child JVM, so the standalone scheduler, executor loss and Spark's resource scheduling (a {@code gpu} resource
 * per worker from a discovery script) are the real ones. Run directories live on a MiniDFSCluster that the executors
 * reach over RPC.
 */
class LocalClusterTrainTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static MiniHdfs hdfs;
    private static LocalCluster cluster;
    private static SparkSession spark;
    private static ShardTrainingData data;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        cluster = new LocalCluster();
        spark = cluster.start(2, 1, 1024, Map.of(
                "spark.worker.resource.gpu.amount", "1",
                "spark.worker.resource.gpu.discoveryScript", gpuDiscoveryScript().toString(),
                "spark.executor.resource.gpu.amount", "1",
                "spark.task.resource.gpu.amount", "1"));
        String manifest = ByteShards.write(hdfs.fileSystem(), new org.apache.hadoop.fs.Path(hdfs.uri("/data/bytes")),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 40, 2, -1, 1);
        data = ShardTrainingData.open(manifest, 7, true, hdfs.fileSystem().getConf());
    }

    @AfterAll
    static void stop() throws IOException {
        if (cluster != null) {
            cluster.close();
        }
        hdfs.close();
    }

    /**
     * A discovery script for a host with two GPUs and two workers: each worker that runs it claims an address of its
     * own (0, then 1). No GPU stands behind the addresses; the engine must find that out and say so.
     */
    private static Path gpuDiscoveryScript() throws IOException {
        Path claims = Files.createDirectories(cluster.home().resolve("gpu-claims"));
        Path script = cluster.home().resolve("discover-test-gpus.sh");
        Files.writeString(script, """
                #!/usr/bin/env bash
                for a in 0 1; do
                  if mkdir "%s/$a" 2>/dev/null; then echo "{\\"name\\":\\"gpu\\",\\"addresses\\":[\\"$a\\"]}"; exit 0; fi
                done
                echo "no unclaimed test GPU address left" >&2
                exit 1
                """.formatted(claims));
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    private static TrainSettings settings(String runId, int localSteps, int rounds) {
        return settings(runId, localSteps, rounds, "driver");
    }

    private static TrainSettings settings(String runId, int localSteps, int rounds, String sync) {
        return new TrainSettings(data.manifestUri(), "test-bigram", hdfs.uri("/runs"), runId, false, 2, localSteps,
                rounds, 4, 32, "diloco", 0.7, 0.9, false, 2, 2, 11,
                new EngineDevice("auto", EngineDevice.NO_DEVICE, GemmPrecision.BF16, AttentionPath.GEMM,
                        GroupedGemmPath.CUBLAS, runId), sync, 60, 0, 512, 4, 0);
    }

    private static TrainResult train(TrainSettings s, LocalTrainerFactory engine, Map<String, String> config)
            throws IOException {
        RunDirectory run = RunDirectory.under(s.runsRoot(), s.runId(), hdfs.fileSystem().getConf());
        return new RoundRunner(spark, s, engine, data, run, config).run();
    }

    private static List<JsonNode> lines(String runId, String file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : MetricsLog.readLines(hdfs.fileSystem(),
                new org.apache.hadoop.fs.Path("/runs/" + runId + "/metrics/" + file))) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    private static final BigramTrainer.Factory BIGRAM = new BigramTrainer.Factory(11, ByteShards.TOKENIZER_SHA, 1 + 64);

    /**
     * A run of 3 rounds in which partition 1's executor JVM exits after the first local step of round 2; checks that
     * Spark reported that task, and only that one, lost, and waits for the replacement executor (the next test needs
     * both again).
     */
    private static TrainResult trainLosingAnExecutorInRoundTwo(String runId, String sync) throws Exception {
        ConcurrentLinkedQueue<String> removedExecutors = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<String> lostTasks = new ConcurrentLinkedQueue<>();
        SparkListener listener = new SparkListener() {
            @Override
            public void onExecutorRemoved(SparkListenerExecutorRemoved removed) {
                removedExecutors.add(removed.executorId() + ": " + removed.reason());
            }

            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (end.reason() instanceof ExecutorLostFailure lost) {
                    lostTasks.add("partition " + end.taskInfo().index() + " on executor " + lost.execId());
                }
            }
        };
        spark.sparkContext().addSparkListener(listener);
        TrainResult survived = train(settings(runId, 3, 3, sync),
                new FaultInjectingFactory(BIGRAM, FaultInjectingFactory.Fault.EXIT_EXECUTOR, 1, 1), Map.of());
        awaitListenerEvents(() -> !removedExecutors.isEmpty() && !lostTasks.isEmpty());
        spark.sparkContext().removeSparkListener(listener);
        assertTrue(lostTasks.stream().allMatch(t -> t.startsWith("partition 1 ")), "lost tasks: " + lostTasks);
        assertEquals(3, survived.rounds().size(), "the run goes on to its last round");
        for (RoundSummary round : survived.rounds()) {
            assertEquals(2, round.contributors(), "round " + round.round() + ": both workers count once");
            assertEquals(2L * 3 * 4 * 32, round.tokens());
        }
        cluster.awaitExecutors(2);
        return survived;
    }

    private static List<Double> losses(String runId) throws IOException {
        return lines(runId, "rounds.jsonl").stream().map(l -> l.path("loss").asDouble()).toList();
    }

    @Test
    void anExecutorLostInTheMiddleOfARoundSlowsItButEveryUpdateCountsOnce() throws Exception {
        TrainResult expected = train(settings("cluster-clean", 3, 3), BIGRAM, Map.of());
        TrainResult survived = trainLosingAnExecutorInRoundTwo("cluster-executor-lost", "driver");
        assertArrayEquals(expected.params_P(), survived.params_P(),
                "the retried worker's update is applied once: the same parameters as the run without a loss");
        for (RoundSummary round : survived.rounds()) {
            assertEquals(round.round() == 1 ? 1 : 0, round.retriedTasks(), "round " + round.round());
        }
        assertEquals(losses("cluster-clean"), losses("cluster-executor-lost"));
    }

    /**
     * The barrier path loses the rank's state with its executor: the retried stage finds rank 1's round state
     * nowhere, so both ranks restart from the newest checkpoint (none yet in round 2: the initial parameters) and
     * replay round 1 before round 2. The result is the clean run's, bit for bit, and the driver path's (two workers).
     */
    @Test
    void aBarrierRoundThatLosesAnExecutorReplaysFromTheCheckpointAndEveryUpdateCountsOnce() throws Exception {
        train(settings("cluster-barrier-clean", 3, 3, "barrier"), BIGRAM, Map.of());
        TrainResult survived = trainLosingAnExecutorInRoundTwo("cluster-barrier-executor-lost", "barrier");
        float[] clean = VectorFiles.read(hdfs.fileSystem(),
                new org.apache.hadoop.fs.Path("/runs/cluster-barrier-clean/final/parameters.f32"));
        assertArrayEquals(clean, VectorFiles.read(hdfs.fileSystem(),
                new org.apache.hadoop.fs.Path("/runs/cluster-barrier-executor-lost/final/parameters.f32")),
                "the lost round is recomputed, never applied twice");
        for (RoundSummary round : survived.rounds()) {
            assertEquals(round.round() == 1 ? 2 : 0, round.retriedTasks(), "round " + round.round()
                    + ": a barrier stage is retried whole");
            assertEquals(round.round() == 1 ? 1 : 0, round.replayedRounds(), "round " + round.round());
        }
        assertEquals(losses("cluster-barrier-clean"), losses("cluster-barrier-executor-lost"));
        TrainResult driver = train(settings("cluster-driver-twin", 3, 3), BIGRAM, Map.of());
        assertArrayEquals(driver.params_P(), clean, "two workers: the ring's sum is the driver's, rounded alike");
    }

    private static List<String> tinyArgs(String runId, String... more) {
        List<String> args = new ArrayList<>(List.of("--manifest", data.manifestUri(), "--runs", hdfs.uri("/runs"),
                "--run-id", runId, "--model", "tiny", "--workers", "2", "--local-steps", "2", "--rounds", "2",
                "--batch-size", "4", "--seq-len", "32", "--engine.micro-batch", "2", "--engine.warmup-steps", "1"));
        args.addAll(List.of(more));
        return args;
    }

    private static TrainResult trainTiny(List<String> args) throws IOException {
        JobSettings settings = JobSettings.resolve(new TrainJob(), args);
        TrainSettings train = TrainSettings.from(settings);
        EngineTrainerFactory tiny = EngineTrainerFactory.fromSettings(settings, train, ByteShards.TOKENIZER_SHA,
                hdfs.fileSystem().getConf());
        return train(train, tiny, settings.asMap());
    }

    /** How often {@code text} occurs in all executor logs together. */
    private static long occurrences(String text) throws IOException {
        String logs = cluster.executorLogs();
        long n = 0;
        for (int at = logs.indexOf(text); at >= 0; at = logs.indexOf(text, at + 1)) {
            n++;
        }
        return n;
    }

    @Test
    void eachTaskGetsItsGpuAddressFromSparkFindsNoGpuAndTrainsOnTheCpuSayingSoOncePerExecutor() throws Exception {
        // --device 5 names a device for runs without GPU scheduling; a task's gpu resource wins over it.
        TrainResult result = trainTiny(tinyArgs("cluster-gpu", "--device", "5"));
        assertEquals(2, result.rounds().size());

        List<JsonNode> steps = lines("cluster-gpu", "steps.jsonl");
        assertEquals(2 * 2 * 2, steps.size());
        Set<String> devices = new TreeSet<>();
        for (JsonNode step : steps) {
            devices.add(step.path("device").asText());
            assertTrue(step.path("backend").asText().startsWith("cpu"), "no GPU here, so the CPU backend: " + step);
        }
        assertEquals(Set.of("cuda:0", "cuda:1"), devices,
                "each executor's tasks carry its worker's gpu address from TaskContext.resources()");
        for (String address : List.of("0", "1")) {
            // Two rounds ran on each executor; what it chose and why is said once per executor and run.
            assertEquals(1, occurrences("train run cluster-gpu: backend=auto: CUDA device " + address + " (from Spark"
                    + " task gpu resource address " + address + ") cannot be opened: "), "executor log, address " + address);
            assertEquals(1, occurrences("train run cluster-gpu: device=5 is not used: the task holds Spark 'gpu'"
                    + " resource address " + address), "executor log, address " + address);
        }
        assertEquals(2, occurrences("train run cluster-gpu: backend=auto: CUDA device "), "once per executor");
        assertEquals(2, occurrences("using the CPU backend instead"), "and which backend it took, once per executor");
    }

    @Test
    void cudaAskedForFailsTheTaskNamingTheDeviceItsSourceAndTheCudaError() throws Exception {
        // The CUDA error this machine gives (no driver, no such device); the failed task must carry it.
        String cudaError;
        try (var backend = org.sparkmoe.model.backend.cuda.CudaBackends.open(
                new org.sparkmoe.model.backend.cuda.DeviceSelection(0, "probe"), GemmPrecision.BF16, AttentionPath.GEMM,
                GroupedGemmPath.CUBLAS)) {
            Assumptions.abort("a GPU opens here; backend=cuda then trains on it instead of failing");
            return;
        } catch (IllegalStateException e) {
            cudaError = e.getCause().getMessage();
        }
        Exception failure = assertThrows(Exception.class, () -> trainTiny(tinyArgs("cluster-cuda", "--backend", "cuda")));
        String message = String.valueOf(failure.getMessage());
        assertTrue(message.contains("train run cluster-cuda: backend=cuda: CUDA device ")
                && message.contains(" (from Spark task gpu resource address ") && message.contains(") cannot be opened: "
                + cudaError), message);
        assertTrue(message.contains("use backend=auto to fall back to the CPU"), message);
        assertEquals(0, occurrences("train run cluster-cuda: backend=auto"), "asked-for CUDA never falls back");
    }

    private static void awaitListenerEvents(java.util.function.BooleanSupplier seen) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!seen.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertTrue(seen.getAsBoolean(), "Spark's listener bus reported no lost executor and no lost task");
    }
}
