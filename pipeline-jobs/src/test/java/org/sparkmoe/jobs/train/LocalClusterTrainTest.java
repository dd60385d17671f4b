package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Stream;
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
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.GemmPrecision;

/**
 * The trainer on a cluster whose executors are separate JVMs: Spark's {@code local-cluster[2,1,1024]} runs a
 * standalone master and two workers in this JVM, and each worker launches its executor as a child JVM, so the
 * standalone scheduler, executor loss and Spark's resource scheduling (a {@code gpu} resource per worker from a
 * discovery script) are the real ones. Run directories live on a MiniDFSCluster that the executors reach over RPC.
 *
 * <p>How local-cluster runs from a Maven test: in testing mode ({@code spark.testing} set) a Worker takes its Spark
 * home from {@code spark.test.home} and the driver hands its own {@code java.class.path} to the executors, so they
 * load our test classes. The launcher's command builder only needs the home to have a {@code jars/} directory and a
 * {@code launcher/target/scala-2.13} build directory (it reads the Scala version from it); both stay empty. The
 * executors get the JVM flags of {@code conf/jvm.properties}.
 */
class LocalClusterTrainTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CLUSTER = "local-cluster[2,1,1024]";

    private static MiniHdfs hdfs;
    private static SparkSession spark;
    private static Path sparkHome;
    private static List<Path> workerDirs;
    private static ShardTrainingData data;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        sparkHome = Files.createTempDirectory("sparkmoe-spark-home");
        Files.createDirectories(sparkHome.resolve("jars"));
        Files.createDirectories(sparkHome.resolve("launcher/target/scala-2.13"));
        System.setProperty("spark.testing", "true");
        System.setProperty("spark.test.home", sparkHome.toString());
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        Set<Path> before = workerDirs();
        spark = SparkSession.builder().master(CLUSTER).appName("train-local-cluster")
                .config("spark.executor.extraJavaOptions", jvmFlags())
                .config("spark.executor.memory", "1g")
                .config("spark.worker.resource.gpu.amount", "1")
                .config("spark.worker.resource.gpu.discoveryScript", gpuDiscoveryScript().toString())
                .config("spark.executor.resource.gpu.amount", "1")
                .config("spark.task.resource.gpu.amount", "1")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "localhost")
                .getOrCreate();
        awaitExecutors(2);
        workerDirs = workerDirs().stream().filter(d -> !before.contains(d)).toList();
        String manifest = ByteShards.write(hdfs.fileSystem(), new org.apache.hadoop.fs.Path(hdfs.uri("/data/bytes")),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 40, 2, -1, 1);
        data = ShardTrainingData.open(manifest, 7, true, hdfs.fileSystem().getConf());
    }

    @AfterAll
    static void stop() throws IOException {
        if (spark != null) {
            spark.stop();
        }
        System.clearProperty("spark.testing");
        System.clearProperty("spark.test.home");
        hdfs.close();
        for (Path dir : workerDirs == null ? List.<Path>of() : workerDirs) {
            deleteTree(dir);
        }
        deleteTree(sparkHome);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /**
     * In testing mode each local-cluster worker works in a new {@code worker-<uuid>} directory under
     * {@code java.io.tmpdir} (and leaves it there); its executors' logs are {@code app-*}{@code /<executor>/stderr}.
     */
    private static Set<Path> workerDirs() throws IOException {
        try (Stream<Path> dirs = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return dirs.filter(d -> d.getFileName().toString().startsWith("worker-")).collect(
                    java.util.stream.Collectors.toSet());
        }
    }

    /** The executors' JVM flags: the one list in conf/jvm.properties (surefire gives the repository root). */
    private static String jvmFlags() throws IOException {
        Properties jvm = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(System.getProperty("sparkmoe.repo"), "conf", "jvm.properties"))) {
            jvm.load(in);
        }
        return jvm.getProperty("sparkmoe.jvm.flags");
    }

    /**
     * A discovery script for a host with two GPUs and two workers: each worker that runs it claims an address of its
     * own (0, then 1). No GPU stands behind the addresses; the engine must find that out and say so.
     */
    private static Path gpuDiscoveryScript() throws IOException {
        Path claims = Files.createDirectories(sparkHome.resolve("gpu-claims"));
        Path script = sparkHome.resolve("discover-test-gpus.sh");
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

    private static void awaitExecutors(int count) throws InterruptedException {
        long deadline = System.nanoTime() + 120_000_000_000L;
        // getExecutorInfos lists the driver too.
        while (spark.sparkContext().statusTracker().getExecutorInfos().length < count + 1) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(CLUSTER + ": " + count + " executors did not register within 120 s;"
                        + " see the executor logs in the worker-* directories under " + System.getProperty("java.io.tmpdir"));
            }
            Thread.sleep(200);
        }
    }

    private static TrainSettings settings(String runId, int localSteps, int rounds) {
        return new TrainSettings(data.manifestUri(), "test-bigram", hdfs.uri("/runs"), runId, false, 2, localSteps,
                rounds, 4, 32, "diloco", 0.7, 0.9, false, 2, 2, 11,
                new EngineDevice("auto", EngineDevice.NO_DEVICE, GemmPrecision.BF16, AttentionPath.GEMM, runId));
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

    /** Everything the executors wrote to stderr (their log) so far. */
    private static String executorLogs() throws IOException {
        StringBuilder all = new StringBuilder();
        for (Path dir : workerDirs) {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path f : files.filter(p -> p.getFileName().toString().equals("stderr")).toList()) {
                    all.append(Files.readString(f));
                }
            }
        }
        return all.toString();
    }

    @Test
    void anExecutorLostInTheMiddleOfARoundSlowsItButEveryUpdateCountsOnce() throws Exception {
        BigramTrainer.Factory bigram = new BigramTrainer.Factory(11, ByteShards.TOKENIZER_SHA, 1 + 64);
        TrainResult expected = train(settings("cluster-clean", 3, 3), bigram, Map.of());

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
        // Round 2 of 3: partition 1's executor JVM exits after the task's first local step.
        TrainResult survived = train(settings("cluster-executor-lost", 3, 3),
                new FaultInjectingFactory(bigram, FaultInjectingFactory.Fault.EXIT_EXECUTOR, 1, 1), Map.of());
        awaitListenerEvents(() -> !removedExecutors.isEmpty() && !lostTasks.isEmpty());
        spark.sparkContext().removeSparkListener(listener);

        assertTrue(lostTasks.stream().allMatch(t -> t.startsWith("partition 1 ")), "lost tasks: " + lostTasks);
        assertEquals(3, survived.rounds().size(), "the run goes on to its last round");
        assertArrayEquals(expected.params_P(), survived.params_P(),
                "the retried worker's update is applied once: the same parameters as the run without a loss");
        for (RoundSummary round : survived.rounds()) {
            assertEquals(2, round.contributors(), "round " + round.round() + ": both workers count once");
            assertEquals(2L * 3 * 4 * 32, round.tokens());
            assertEquals(round.round() == 1 ? 1 : 0, round.retriedTasks(), "round " + round.round());
        }
        assertEquals(lines("cluster-clean", "rounds.jsonl").stream().map(l -> l.path("loss").asDouble()).toList(),
                lines("cluster-executor-lost", "rounds.jsonl").stream().map(l -> l.path("loss").asDouble()).toList());
        // The standalone master replaces the lost executor; the next test needs both again.
        awaitExecutors(2);
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
        String logs = executorLogs();
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
                new org.sparkmoe.model.backend.cuda.DeviceSelection(0, "probe"), GemmPrecision.BF16, AttentionPath.GEMM)) {
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
