package org.sparkmoe.jobs.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.jobs.train.ByteShards;

/**
 * GPU scheduling mistakes end with Spark's message and one naming the setting to change, instead of a job that waits
 * forever. Spark's {@code local-cluster} mode runs a real standalone master and worker in this JVM (set up as
 * LocalClusterTrainTest does), whose worker finds its GPUs with a discovery script.
 */
class GpuSchedulingTest {

    private static Path sparkHome;

    @BeforeAll
    static void start() throws IOException {
        sparkHome = Files.createTempDirectory("sparkmoe-spark-home");
        Files.createDirectories(sparkHome.resolve("jars"));
        Files.createDirectories(sparkHome.resolve("launcher/target/scala-2.13"));
        System.setProperty("spark.testing", "true");
        System.setProperty("spark.test.home", sparkHome.toString());
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
    }

    @AfterAll
    static void stop() throws IOException {
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        System.clearProperty("spark.testing");
        System.clearProperty("spark.test.home");
        try (Stream<Path> files = Files.walk(sparkHome)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static Path discoveryScript(String name, String output) throws IOException {
        Path script = sparkHome.resolve(name);
        Files.writeString(script, "#!/usr/bin/env bash\n" + output + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    private static List<String> cluster(Path script, String workerGpus, String executorGpus, String taskGpus)
            throws IOException {
        Properties jvm = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(System.getProperty("sparkmoe.repo"), "conf", "jvm.properties"))) {
            jvm.load(in);
        }
        return List.of("--spark.master", "local-cluster[1,1,1024]", "--spark.driver.host", "localhost",
                "--spark.executor.memory", "1g", "--spark.executor.extraJavaOptions", jvm.getProperty("sparkmoe.jvm.flags"),
                "--spark.worker.resource.gpu.amount", workerGpus,
                "--spark.worker.resource.gpu.discoveryScript", script.toString(),
                "--spark.executor.resource.gpu.amount", executorGpus, "--spark.task.resource.gpu.amount", taskGpus);
    }

    private static JobSettings settings(List<String> args) {
        return JobSettings.of("settings-probe", Map.of()).with(pairs(args));
    }

    private static Map<String, String> pairs(List<String> args) {
        Map<String, String> out = new java.util.LinkedHashMap<>();
        for (int i = 0; i < args.size(); i += 2) {
            out.put(args.get(i).substring(2), args.get(i + 1));
        }
        return out;
    }

    @Test
    void barrierRanksSharingAGpuAreRefusedBeforeAnyEngineIsBuilt() {
        org.apache.spark.SparkConf shared = new org.apache.spark.SparkConf()
                .set("spark.master", "spark://gpu-host:7077").set(GpuScheduling.TASK_AMOUNT, "0.5");
        UsageException e = assertThrows(UsageException.class,
                () -> GpuScheduling.requireWholeGpus(shared, "sync=barrier"));
        assertTrue(e.getMessage().startsWith("sync=barrier runs one NCCL rank per GPU")
                && e.getMessage().contains("spark.task.resource.gpu.amount=0.5 lets tasks share a GPU")
                && e.getMessage().contains("sync=driver"), e.getMessage());
        GpuScheduling.requireWholeGpus(shared.clone().set(GpuScheduling.TASK_AMOUNT, "1"), "sync=barrier");
        GpuScheduling.requireWholeGpus(shared.clone().set("spark.master", "local[2]"), "sync=barrier");
    }

    @Test
    void anExecutorAskingForMoreGpusThanAWorkerHasIsRefusedBeforeSparkWaitsForever() throws IOException {
        Path script = discoveryScript("one-gpu.sh", "echo '{\"name\":\"gpu\",\"addresses\":[\"0\"]}'");
        UsageException e = assertThrows(UsageException.class,
                () -> SparkSessions.forJob(settings(cluster(script, "1", "2", "1"))));
        assertTrue(e.getMessage().startsWith("spark.executor.resource.gpu.amount=2 is more than the GPUs of a worker"
                + " (spark.worker.resource.gpu.amount=1)") && e.getMessage().contains("Lower"
                + " spark.executor.resource.gpu.amount to at most 1"), e.getMessage());
    }

    @Test
    void aTaskAskingForMoreGpusThanAnExecutorHasEndsWithSparksMessageAndOurs() throws IOException {
        Path script = discoveryScript("one-gpu-b.sh", "echo '{\"name\":\"gpu\",\"addresses\":[\"0\"]}'");
        UsageException e = assertThrows(UsageException.class,
                () -> SparkSessions.forJob(settings(cluster(script, "1", "1", "2"))));
        assertTrue(e.getMessage().contains("The executor resource: gpu, amount: 1 needs to be >= the task resource"
                + " request amount of 2.0"), "Spark's own message: " + e.getMessage());
        assertTrue(e.getMessage().contains("spark.task.resource.gpu.amount (2) at most"
                + " spark.executor.resource.gpu.amount"), "ours, naming the setting: " + e.getMessage());
    }

    @Test
    void aDiscoveryScriptThatPrintsNothingEndsTheTrainJobNamingTheScriptSetting(@TempDir Path dir) throws Exception {
        Path silent = discoveryScript("silent.sh", "true");
        String manifest = ByteShards.write(FileSystem.getLocal(new Configuration()),
                new org.apache.hadoop.fs.Path(dir.resolve("bytes").toUri()),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 20, 1, -1, 1);
        List<String> args = new ArrayList<>(List.of("train", "--manifest", manifest, "--runs", dir.resolve("runs")
                .toString(), "--run-id", "no-gpu", "--model", "tiny", "--workers", "1", "--local-steps", "1",
                "--rounds", "1", "--batch-size", "2", "--seq-len", "16", "--engine.micro-batch", "2",
                "--gpu-wait-seconds", "15"));
        args.addAll(cluster(silent, "1", "1", "1"));
        PrintStream original = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        long started = System.nanoTime();
        try {
            status = SparkMoeMain.run(args.toArray(String[]::new));
        } finally {
            System.setErr(original);
            SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        }
        String message = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, status, message);
        assertTrue(message.contains("no task of stage 0 started in 15 s and no executor with a Spark 'gpu' resource"
                + " registered") && message.contains("Initial job has not accepted any resources"), message);
        assertTrue(message.contains("spark.worker.resource.gpu.discoveryScript=" + silent)
                && message.contains("an empty output leaves the worker without GPUs"), message);
        assertTrue((System.nanoTime() - started) / 1e9 < 300, "the job ends instead of waiting");
    }
}
