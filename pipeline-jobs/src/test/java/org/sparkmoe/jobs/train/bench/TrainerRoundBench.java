package org.sparkmoe.jobs.train.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.evaluate.ValidationPass;
import org.sparkmoe.jobs.evaluate.ValidationResult;
import org.sparkmoe.jobs.train.ByteShards;
import org.sparkmoe.jobs.train.EngineTrainerFactory;
import org.sparkmoe.jobs.train.MetricsLog;
import org.sparkmoe.jobs.train.TrainJob;
import org.sparkmoe.jobs.train.TrainSettings;
import org.sparkmoe.jobs.train.VectorFiles;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * The trainer's two measurements (docs/benchmarks.md, "trainer"), printed as tables:
 * <ol>
 *   <li>averaging overhead per round (broadcast, scheduling, tree aggregation, outer step, state files: round time
 *       minus the slowest worker's local compute) as a share of the round, against H;</li>
 *   <li>loss against tokens at equal tokens for plain averaging and DiLoCo with W = 2, and W = 1 synchronous
 *       training with the same global batch, plus each run's validation loss.</li>
 * </ol>
 * Real engine, real byte-level token shards of corpus documents, Spark local[W] on the local filesystem.
 * Usage: {@code TrainerRoundBench MODEL SEQ_LEN "H,H,..." ROUNDS_PER_H CURVE_H CURVE_ROUNDS [BATCH MICRO_BATCH]}
 * (CURVE_ROUNDS 0 skips the second table; BATCH, the sequences per worker step of the overhead table, and the
 * engine's MICRO_BATCH default to 4 and 4).
 */
public final class TrainerRoundBench {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static int microBatch;

    private TrainerRoundBench() {}

    public static void main(String[] args) throws Exception {
        String model = args.length > 0 ? args[0] : "tiny";
        int seqLen = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int[] hs = Arrays.stream((args.length > 2 ? args[2] : "1,4,16").split(",")).mapToInt(Integer::parseInt).toArray();
        int roundsPerH = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        int curveH = args.length > 4 ? Integer.parseInt(args[4]) : 8;
        int curveRounds = args.length > 5 ? Integer.parseInt(args[5]) : 8;
        int batch = args.length > 6 ? Integer.parseInt(args[6]) : 4;
        microBatch = args.length > 7 ? Integer.parseInt(args[7]) : 4;
        java.nio.file.Path work = Files.createTempDirectory("sparkmoe-trainer-bench");
        FileSystem fs = FileSystem.getLocal(new Configuration());
        String manifest = ByteShards.write(fs, new Path(work.resolve("data").toUri()),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 400, 4, -1, 1);
        String runs = work.resolve("runs").toUri().toString();

        System.out.printf("%n== averaging overhead per round, model %s, W=2, batch %d x %d tokens (micro-batch %d),"
                + " %d rounds per H (median over rounds 2..)%n", model, batch, seqLen, microBatch, roundsPerH);
        System.out.printf("%4s %12s %12s %12s %10s %12s%n", "H", "round s", "compute s", "overhead s", "share", "tok/s");
        for (int h : hs) {
            String runId = "overhead-h" + h;
            train(runs, runId, manifest, model, seqLen, 2, h, roundsPerH, batch, "diloco");
            List<JsonNode> rounds = rounds(fs, runs, runId).subList(1, roundsPerH);
            System.out.printf("%4d %12.3f %12.3f %12.3f %9.1f%% %12.0f%n", h, median(rounds, "round_seconds"),
                    median(rounds, "compute_seconds"), median(rounds, "overhead_seconds"),
                    100 * median(rounds, "overhead_share"), median(rounds, "tokens_per_second"));
        }

        if (curveRounds == 0) {
            SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
            return;
        }
        System.out.printf("%n== loss against tokens at equal tokens, model %s, H=%d, %d rounds, global batch 8 x %d"
                + " tokens per step%n", model, curveH, curveRounds, seqLen);
        String[][] setups = {{"W=2 average", "2", "4", "average"}, {"W=2 diloco", "2", "4", "diloco"},
                {"W=1 sync", "1", "8", "average"}};
        List<List<JsonNode>> curves = new ArrayList<>();
        List<Double> validation = new ArrayList<>();
        for (String[] setup : setups) {
            String runId = "curve-" + setup[0].replace(' ', '-').replace("=", "");
            train(runs, runId, manifest, model, seqLen, Integer.parseInt(setup[1]), curveH, curveRounds,
                    Integer.parseInt(setup[2]), setup[3]);
            curves.add(rounds(fs, runs, runId));
            validation.add(validationLoss(runs, runId, manifest, model, seqLen, Integer.parseInt(setup[1]), curveH,
                    curveRounds, Integer.parseInt(setup[2]), setup[3]));
        }
        System.out.printf("%6s %12s", "round", "tokens");
        for (String[] setup : setups) {
            System.out.printf(" %14s", setup[0]);
        }
        System.out.println();
        for (int r = 0; r < curveRounds; r++) {
            System.out.printf("%6d %12d", r + 1, curves.getFirst().get(r).path("total_tokens").asLong());
            for (List<JsonNode> curve : curves) {
                System.out.printf(" %14.4f", curve.get(r).path("loss").asDouble());
            }
            System.out.println();
        }
        System.out.printf("%19s", "validation loss");
        for (double v : validation) {
            System.out.printf(" %14.4f", v);
        }
        System.out.println();
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
    }

    private static String[] args(String runs, String runId, String manifest, String model, int seqLen, int workers,
                                 int h, int rounds, int batch, String outer) {
        return new String[] {"train", "--manifest", manifest, "--runs", runs, "--run-id", runId, "--model", model,
                "--workers", "" + workers, "--local-steps", "" + h, "--rounds", "" + rounds, "--batch-size", "" + batch,
                "--seq-len", "" + seqLen, "--outer-optimizer", outer, "--checkpoint-every", "1000",
                "--engine.lr", "3e-3", "--engine.warmup-steps", "8", "--engine.micro-batch", "" + microBatch,
                "--engine.lr-schedule", "constant", "--spark.master", "local[2]", "--spark.driver.host", "localhost",
                "--spark.driver.maxResultSize", "0"};
    }

    private static void train(String runs, String runId, String manifest, String model, int seqLen, int workers, int h,
                              int rounds, int batch, String outer) {
        int status = SparkMoeMain.run(args(runs, runId, manifest, model, seqLen, workers, h, rounds, batch, outer));
        if (status != 0) {
            throw new IllegalStateException("train " + runId + " exited with " + status);
        }
    }

    private static double validationLoss(String runs, String runId, String manifest, String model, int seqLen,
                                         int workers, int h, int rounds, int batch, String outer) throws Exception {
        String[] a = args(runs, runId, manifest, model, seqLen, workers, h, rounds, batch, outer);
        JobSettings settings = JobSettings.resolve(new TrainJob(), Arrays.asList(a).subList(1, a.length));
        EngineTrainerFactory engine = EngineTrainerFactory.fromSettings(settings, TrainSettings.from(settings),
                ByteShards.TOKENIZER_SHA, new Configuration());
        FileSystem fs = FileSystem.getLocal(new Configuration());
        float[] params = VectorFiles.read(fs, new Path(runs, runId + "/final/parameters.f32"));
        ValidationResult v = ValidationPass.run(SparkSession.active(), engine, params, manifest, "validation", seqLen,
                256, 8, null);
        return v.loss();
    }

    private static List<JsonNode> rounds(FileSystem fs, String runs, String runId) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : MetricsLog.readLines(fs, new Path(runs, runId + "/metrics/rounds.jsonl"))) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    private static double median(List<JsonNode> rounds, String key) {
        double[] v = rounds.stream().mapToDouble(r -> r.path(key).asDouble()).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
