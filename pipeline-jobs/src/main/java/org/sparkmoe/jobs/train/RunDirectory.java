package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.io.Serializable;
import java.io.StringReader;
import java.io.StringWriter;
import java.net.URI;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.spark.JobHadoop;

/**
 * The layout of one run on any Hadoop filesystem ({@code hdfs://.../runs/<run-id>/}); docs/training.md shows it.
 *
 * <pre>
 *   config.properties          the job's resolved settings
 *   model.json                 the resolved model and training configuration
 *   manifest.json              a copy of the dataset manifest the run read
 *   metrics/rounds.jsonl       one JSON line per round
 *   metrics/steps.jsonl        one JSON line per local step of each worker
 *   workers/round-R/worker-W.f32   each worker's inner optimiser state after round R (the next round's input)
 *   checkpoints/round-R/       parameters, outer-optimiser, worker states and reader positions after round R
 *   final/parameters.f32       the trained parameters
 *   summary.json               what the run did
 *   evaluation/                what the evaluate job writes
 * </pre>
 * Serializable as its URI string, so tasks find it on executors.
 */
public record RunDirectory(String uri) implements Serializable {

    /** The run directory of {@code runId} under {@code runsRoot}, fully qualified against its filesystem. */
    public static RunDirectory under(String runsRoot, String runId, Configuration conf) throws IOException {
        Path root = new Path(runsRoot, runId);
        return new RunDirectory(root.getFileSystem(conf).makeQualified(root).toString());
    }

    public Path root() {
        return new Path(URI.create(uri));
    }

    /** The run's filesystem, opened with the job's Hadoop settings (on the driver and in tasks). */
    public FileSystem fileSystem() throws IOException {
        return root().getFileSystem(JobHadoop.current());
    }

    public Path resolvedConfig() {
        return new Path(root(), "config.properties");
    }

    /** Writes {@link #resolvedConfig()}: the train job's resolved settings ({@link JobSettings#asMap()}). */
    public void writeResolvedConfig(FileSystem fs, Map<String, String> settings) throws IOException {
        Properties config = new Properties();
        config.putAll(settings);
        StringWriter text = new StringWriter();
        config.store(text, "resolved settings of this run (sparkmoe train)");
        VectorFiles.writeText(fs, resolvedConfig(), text.toString());
    }

    /** The train settings this run was started with, read back from {@link #resolvedConfig()}. */
    public JobSettings readResolvedConfig(FileSystem fs) throws IOException {
        Properties config = new Properties();
        config.load(new StringReader(VectorFiles.readText(fs, resolvedConfig())));
        Map<String, String> settings = new TreeMap<>();
        config.forEach((k, v) -> settings.put(k.toString(), v.toString()));
        return JobSettings.of("train", settings, resolvedConfig().toString());
    }

    public Path modelConfig() {
        return new Path(root(), "model.json");
    }

    public Path manifestCopy() {
        return new Path(root(), "manifest.json");
    }

    public Path roundMetrics() {
        return new Path(root(), "metrics/rounds.jsonl");
    }

    public Path stepMetrics() {
        return new Path(root(), "metrics/steps.jsonl");
    }

    public Path workerStates(int round) {
        return new Path(root(), String.format("workers/round-%06d", round));
    }

    public Path checkpoints() {
        return new Path(root(), "checkpoints");
    }

    /** The checkpoint after {@code completedRounds} rounds, {@code checkpoints/round-R} (R in six digits). */
    public Path checkpoint(int completedRounds) {
        return new Path(checkpoints(), String.format("round-%06d", completedRounds));
    }

    public Path finalParameters() {
        return new Path(root(), "final/parameters.f32");
    }

    public Path summary() {
        return new Path(root(), "summary.json");
    }

    /** Where evaluate writes its scores of the final parameters. */
    public Path evaluation() {
        return new Path(root(), "evaluation");
    }

    /** Where evaluate writes its scores of a checkpoint's parameters: {@code evaluation-round-R}, by its name. */
    public Path evaluation(Path checkpoint) {
        return new Path(root(), "evaluation-" + checkpoint.getName());
    }

    /** One worker's state file inside a directory of worker states (a round's, or a checkpoint's). */
    public static Path workerStateFile(Path dir, int worker) {
        return new Path(dir, String.format("worker-%04d.f32", worker));
    }
}
