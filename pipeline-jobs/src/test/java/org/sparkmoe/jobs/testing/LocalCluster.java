package org.sparkmoe.jobs.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;

/**
 * Spark's {@code local-cluster[N,cores,memoryMb]} from a Maven test or bench JVM: a standalone master and N workers
 * inside this JVM, each worker launching its executor as a separate JVM, so the standalone scheduler, executor loss
 * and resource scheduling are Spark's real ones.
 *
 * <p>How it runs outside a Spark distribution: in testing mode ({@code spark.testing} set) a Worker takes its Spark
 * home from {@code spark.test.home} and the driver hands its own {@code java.class.path} to the executors, so they
 * load our (test) classes. The launcher's command builder only needs the home to have a {@code jars/} directory and
 * a {@code launcher/target/scala-2.13} build directory (it reads the Scala version from it); both stay empty, in a
 * temporary directory. The executors get the JVM flags of {@code conf/jvm.properties}; their logs are
 * {@code app-*}{@code /<executor>/stderr} under the {@code worker-*} directories Spark creates in
 * {@code java.io.tmpdir}, which {@link #close} deletes.
 */
public final class LocalCluster implements AutoCloseable {

    private final Path sparkHome;
    private List<Path> workerDirs = List.of();
    private SparkSession spark;

    /** Makes the Spark home; {@link #start} starts the cluster. */
    public LocalCluster() throws IOException {
        sparkHome = Files.createTempDirectory("sparkmoe-spark-home");
        Files.createDirectories(sparkHome.resolve("jars"));
        Files.createDirectories(sparkHome.resolve("launcher/target/scala-2.13"));
    }

    /** The temporary Spark home, where a test may put files the workers read (a resource discovery script). */
    public Path home() {
        return sparkHome;
    }

    /**
     * Starts {@code local-cluster[workers,cores,memoryMb]} with {@code conf} on top of what every run needs, and waits
     * until every worker's executor has registered.
     */
    public SparkSession start(int workers, int cores, int memoryMb, Map<String, String> conf) throws Exception {
        System.setProperty("spark.testing", "true");
        System.setProperty("spark.test.home", sparkHome.toString());
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        Set<Path> before = listWorkerDirs();
        SparkSession.Builder builder = SparkSession.builder()
                .master("local-cluster[" + workers + "," + cores + "," + memoryMb + "]")
                .appName("sparkmoe-local-cluster")
                .config("spark.executor.extraJavaOptions", jvmFlags())
                .config("spark.executor.memory", memoryMb + "m")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "localhost");
        conf.forEach(builder::config);
        spark = builder.getOrCreate();
        awaitExecutors(workers);
        workerDirs = listWorkerDirs().stream().filter(d -> !before.contains(d)).toList();
        return spark;
    }

    /** Waits (up to 120 s) until {@code count} executors are registered, e.g. after one was lost and replaced. */
    public void awaitExecutors(int count) throws InterruptedException {
        long deadline = System.nanoTime() + 120_000_000_000L;
        // getExecutorInfos lists the driver too.
        while (spark.sparkContext().statusTracker().getExecutorInfos().length < count + 1) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(spark.sparkContext().master() + ": " + count + " executors did not"
                        + " register within 120 s; see the executor logs in the worker-* directories under "
                        + System.getProperty("java.io.tmpdir"));
            }
            Thread.sleep(200);
        }
    }

    /** Everything the executors wrote to stderr (their log) so far. */
    public String executorLogs() throws IOException {
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

    @Override
    public void close() throws IOException {
        if (spark != null) {
            spark.stop();
        }
        System.clearProperty("spark.testing");
        System.clearProperty("spark.test.home");
        for (Path dir : workerDirs) {
            deleteTree(dir);
        }
        deleteTree(sparkHome);
    }

    /** The executors' JVM flags: the one list in conf/jvm.properties (surefire gives the repository root). */
    private static String jvmFlags() throws IOException {
        Properties jvm = new Properties();
        String repo = System.getProperty("sparkmoe.repo", ".");
        try (InputStream in = Files.newInputStream(Path.of(repo, "conf", "jvm.properties"))) {
            jvm.load(in);
        }
        return jvm.getProperty("sparkmoe.jvm.flags");
    }

    private static Set<Path> listWorkerDirs() throws IOException {
        try (Stream<Path> dirs = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return dirs.filter(d -> d.getFileName().toString().startsWith("worker-")).collect(Collectors.toSet());
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
