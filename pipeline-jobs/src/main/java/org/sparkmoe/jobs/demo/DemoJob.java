package org.sparkmoe.jobs.demo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.spark.JobHadoop;

/**
 * The main job end to end on one machine: prepare the corpus, train a tokenizer, tokenize into Arrow shards, train
 * a small MoE by parameter averaging over two Spark tasks, and evaluate it. Each stage is the real job, called with
 * the options a user would give it, so the demo exercises exactly what spark-submit runs.
 *
 * <p>Layout under {@code output}: {@code prepared/}, {@code tokenizer/}, {@code tokens/<version>/},
 * {@code runs/<run-id>/} (metrics, checkpoints, evaluation and plots).
 */
public final class DemoJob implements Job {

    private static final Logger LOG = LogManager.getLogger(DemoJob.class);

    /** Written into the output directory so a rerun may replace what an earlier demo wrote, and nothing else. */
    static final String MARKER = ".sparkmoe-demo";

    @Override
    public String name() {
        return "demo";
    }

    @Override
    public String summary() {
        return "the whole pipeline end to end: prepare, train-tokenizer, tokenize, train, evaluate";
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        String out = settings.string("output").replaceAll("/+$", "");
        claimOutput(out, JobHadoop.forJob(settings));
        String prepared = out + "/prepared";
        String tokenizer = out + "/tokenizer";
        String tokens = out + "/tokens";
        String runs = out + "/runs";
        String runId = "demo";

        List<String> prepare = new ArrayList<>();
        for (String input : settings.list("input")) {
            prepare.add("--input");
            prepare.add(input);
        }
        prepare.addAll(List.of("--output", prepared));
        List<String> spark = sparkArgs(settings);
        stage("prepare", prepare, spark);
        stage("train-tokenizer", List.of("--input", prepared, "--output", tokenizer,
                "--vocab-size", settings.string("vocab-size")), spark);
        stage("tokenize", List.of("--input", prepared, "--tokenizer", tokenizer + "/tokenizer.json",
                "--output", tokens, "--version", "v1"), spark);
        stage("train", List.of("--manifest", tokens + "/v1/manifest.json", "--model", settings.string("model"),
                "--runs", runs, "--run-id", runId, "--workers", settings.string("workers"),
                "--rounds", settings.string("rounds"), "--local-steps", settings.string("local-steps"),
                "--seq-len", settings.string("seq-len"), "--checkpoint-every", settings.string("rounds")), spark);
        stage("evaluate", List.of("--run", runs + "/" + runId, "--tokenizer", tokenizer + "/tokenizer.json"), spark);
        LOG.info("demo finished: prepared corpus {}, tokenizer {}, shards {}/v1, run {}/{}",
                prepared, tokenizer, tokens, runs, runId);
        System.out.println("demo output: " + out);
        return 0;
    }

    /**
     * The demo's {@code spark.*} settings for every stage; the embedded demo runs without Spark's web UI unless
     * {@code spark.ui.enabled} is set.
     */
    private static List<String> sparkArgs(JobSettings settings) {
        Map<String, String> spark = new java.util.TreeMap<>(settings.sparkConf());
        if (!spark.containsKey("spark.ui.enabled") && System.getProperty("spark.ui.enabled") == null) {
            spark.put("spark.ui.enabled", "false");
        }
        List<String> args = new ArrayList<>();
        spark.forEach((k, v) -> args.addAll(List.of("--" + k, v)));
        return args;
    }

    /** Runs one stage as its own job; any failure ends the demo naming the stage. */
    private static void stage(String jobName, List<String> stageArgs, List<String> sparkArgs) throws Exception {
        List<String> args = new ArrayList<>(stageArgs);
        args.addAll(sparkArgs);
        Map<String, Job> jobs = SparkMoeMain.jobs();
        Job job = jobs.get(jobName);
        if (job == null) {
            throw new IllegalStateException("demo needs the job '" + jobName + "', which is not on the classpath");
        }
        LOG.info("demo stage {}: sparkmoe {} {}", jobName, jobName, String.join(" ", args));
        long start = System.nanoTime();
        int status = job.run(JobSettings.resolve(job, args));
        if (status != 0) {
            throw new IllegalStateException("demo stage " + jobName + " exited with status " + status);
        }
        LOG.info("demo stage {} done in {} s", jobName, Math.round((System.nanoTime() - start) / 1e9));
    }

    /** Replaces an earlier demo's output; refuses to touch a directory the demo did not make. */
    private static void claimOutput(String out, Configuration hadoop) throws IOException {
        Path dir = new Path(out);
        FileSystem fs = dir.getFileSystem(hadoop);
        if (fs.exists(dir)) {
            if (!fs.exists(new Path(dir, MARKER))) {
                throw new UsageException("output " + out + " exists and was not written by the demo: give a new"
                        + " --output directory, or remove it");
            }
            fs.delete(dir, true);
        }
        fs.mkdirs(dir);
        fs.create(new Path(dir, MARKER)).close();
    }
}
