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
import org.sparkmoe.jobs.cli.JobOption;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.cli.UsageException;

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
    public List<JobOption> options() {
        return List.of(
                JobOption.repeatable("input", "corpus to start from: JSONL/Parquet/text files, directories or globs,"
                        + " any Hadoop URI", true),
                JobOption.required("output", "directory for everything the demo writes; an earlier demo's output there"
                        + " is replaced, any other existing directory is refused"),
                JobOption.of("vocab.size", "BPE vocabulary of the demo tokenizer (at most the model preset's vocab_size)"),
                JobOption.of("model", "model preset from conf/models"),
                JobOption.of("workers", "Spark tasks that train in parallel (parameter averaging)"),
                JobOption.of("rounds", "averaging rounds"),
                JobOption.of("local-steps", "optimiser steps per worker between averagings"),
                JobOption.of("seq-len", "training context length"));
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        String out = settings.string("output").replaceAll("/+$", "");
        claimOutput(out);
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
        stage("prepare", prepare);
        stage("train-tokenizer", List.of("--input", prepared, "--output", tokenizer,
                "--vocab.size", settings.string("vocab.size")));
        stage("tokenize", List.of("--input", prepared, "--tokenizer", tokenizer + "/tokenizer.json",
                "--output", tokens, "--version", "v1"));
        stage("train", List.of("--manifest", tokens + "/v1/manifest.json", "--model", settings.string("model"),
                "--runs", runs, "--run-id", runId, "--workers", settings.string("workers"),
                "--rounds", settings.string("rounds"), "--local-steps", settings.string("local-steps"),
                "--seq-len", settings.string("seq-len"), "--checkpoint-every", settings.string("rounds")));
        stage("evaluate", List.of("--run", runs + "/" + runId, "--tokenizer", tokenizer + "/tokenizer.json"));
        LOG.info("demo finished: prepared corpus {}, tokenizer {}, shards {}/v1, run {}/{}",
                prepared, tokenizer, tokens, runs, runId);
        System.out.println("demo output: " + out);
        return 0;
    }

    /** Runs one stage as its own job; any failure ends the demo naming the stage. */
    private static void stage(String jobName, List<String> args) throws Exception {
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
    private static void claimOutput(String out) throws IOException {
        Path dir = new Path(out);
        FileSystem fs = dir.getFileSystem(new Configuration());
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
