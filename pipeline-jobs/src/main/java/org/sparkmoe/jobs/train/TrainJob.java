package org.sparkmoe.jobs.train;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobOption;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.spark.SparkSessions;

/**
 * {@code sparkmoe train}: trains the MoE model by parameter averaging on Spark executors ({@link RoundRunner}),
 * logging metrics, checkpoints and the final model to the run directory. docs/training.md has spark-submit examples.
 */
public final class TrainJob implements Job {

    @Override
    public String name() {
        return "train";
    }

    @Override
    public String summary() {
        return "train the MoE model on token shards by parameter averaging or DiLoCo over Spark tasks";
    }

    @Override
    public List<JobOption> options() {
        return List.of(
                JobOption.required("manifest", "the token dataset: its manifest.json or dataset directory (any Hadoop URI)"),
                JobOption.of("model", "model preset from conf/models (tiny, small, val-2b, ...), or a model .properties"
                        + " file (any Hadoop URI) with every key of conf/models/tiny.properties, e.g. another vocab_size"),
                JobOption.of("runs", "directory holding run directories; the run lives in <runs>/<run-id>/"),
                JobOption.of("tokenizer", "the tokenizer.json the model is for; its SHA-256 must equal the dataset's."
                        + " Empty: the dataset's tokenizer (a resumed run still checks it against its checkpoints)"),
                JobOption.of("run-id", "name of the run directory; empty: run-<UTC start time>"),
                JobOption.of("resume", "true: continue the run from its newest complete checkpoint"),
                JobOption.of("workers", "W, worker tasks per round (>= 1); each owns a disjoint part of the data"),
                JobOption.of("local-steps", "H, optimiser steps per worker between averagings (>= 1)"),
                JobOption.of("rounds", "rounds to train (>= 1)"),
                JobOption.of("batch-size", "sequences per local step on each worker (>= 1)"),
                JobOption.of("seq-len", "context length; sequences hold seq-len + 1 tokens; at most the model's maximum"),
                JobOption.of("outer-optimizer", "average (plain parameter averaging) or diloco (outer Nesterov step)"),
                JobOption.of("outer-lr", "DiLoCo outer learning rate (> 0; paper 0.7)"),
                JobOption.of("outer-momentum", "DiLoCo outer Nesterov momentum, in [0, 1) (paper 0.9)"),
                JobOption.of("average-optimizer-state", "true: average the inner optimiser states too (2-3x traffic)"),
                JobOption.of("checkpoint-every", "rounds between checkpoints (>= 1); the last round is always saved"),
                JobOption.of("aggregation-depth", "depth of the treeAggregate of the workers' parameters (>= 2; sync=driver)"),
                JobOption.of("sync", "driver (parameters through the driver), barrier (workers all-reduce their parameters"
                        + " in a Spark barrier stage: TCP on CPUs, NCCL on GPUs) or data-parallel (gradients every step)"),
                JobOption.of("slot-wait", "seconds a barrier round waits for W free task slots before failing (local: none)"),
                JobOption.of("seed", "seed of the model init and the data order"),
                JobOption.of("backend", "auto (the task's 'gpu' resource, else CPU), cpu, or cuda (fail without a GPU)"),
                JobOption.of("cuda-gemm-precision", "GEMM operands on a GPU: bf16 (tensor cores) or fp32 (exact checks)"),
                JobOption.of("cuda-attention", "attention on a GPU: gemm (cuBLAS batched, tensor cores) or fused (flash-style)"),
                JobOption.of("verify-shards", "true: hash every shard once on the driver before training"),
                JobOption.of("engine.lr", "inner AdamW peak learning rate (> 0)"),
                JobOption.of("engine.lr_schedule", "inner schedule after warmup: step-decay, cosine or constant"),
                JobOption.of("engine.warmup_steps", "inner linear warmup, in local optimiser steps (>= 0)"),
                JobOption.of("engine.min_lr_ratio", "cosine floor as a fraction of the peak learning rate"),
                JobOption.of("engine.adam_beta1", "AdamW beta1"),
                JobOption.of("engine.adam_beta2", "AdamW beta2"),
                JobOption.of("engine.adam_eps", "AdamW epsilon"),
                JobOption.of("engine.weight_decay", "decoupled weight decay on matrices"),
                JobOption.of("engine.grad_clip", "global gradient-norm clip (0 = off)"),
                JobOption.of("engine.micro_batch", "sequences per forward/backward; batch-size must be a multiple"));
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        TrainSettings train = TrainSettings.from(settings);
        SparkSession spark = SparkSessions.forJob(settings);
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        ShardTrainingData data;
        try {
            data = ShardTrainingData.open(train.manifest(), train.seed(), settings.bool("verify-shards"), hadoop);
        } catch (FileNotFoundException e) {
            throw new UsageException("manifest " + train.manifest() + " not found: give the manifest.json (or the dataset"
                    + " directory) that the tokenize job wrote", e);
        }
        String tokenizerHash = settings.has("tokenizer") ? sha256(settings.string("tokenizer"), hadoop) : data.tokenizerHash();
        LocalTrainerFactory engine = EngineTrainerFactory.fromSettings(settings, train, tokenizerHash);
        RunDirectory run = RunDirectory.under(train.runsRoot(), train.runId(), hadoop);
        TrainResult result = new RoundRunner(spark, train, engine, data, run, settings.asMap()).run();
        System.out.printf("trained %d rounds; final loss %.4f; run directory %s%n", result.rounds().size(),
                result.rounds().isEmpty() ? Double.NaN : result.rounds().getLast().loss(), run.uri());
        return 0;
    }

    /** SHA-256 of a file's bytes, as the manifest records the tokenizer's. */
    private static String sha256(String location, Configuration hadoop) throws IOException {
        Path path = new Path(location);
        try (InputStream in = path.getFileSystem(hadoop).open(path)) {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n = in.read(buf); n > 0; n = in.read(buf)) {
                digest.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (FileNotFoundException e) {
            throw new UsageException("tokenizer " + location + " not found: give the tokenizer.json the model is for", e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
