package org.sparkmoe.jobs.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.jobs.train.ByteShards;
import org.sparkmoe.jobs.train.MetricsLog;
import org.sparkmoe.jobs.train.VectorFiles;

/**
 * {@code evaluate --parameters} on checkpoints that {@code train} kept ({@code keep-checkpoints}): the real engine's
 * {@code tiny} preset trained by the real jobs on real token shards (byte-level ids of corpus documents) on a
 * MiniDFSCluster, Spark local mode. Two runs, trained once: one validated after every round and checkpointed after
 * every round with the newest two kept, one without validation.
 */
class EvaluateCheckpointTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** train's validation and evaluate score the same sequences in one forward batch. */
    private static final int SEQUENCES = 8;

    private static MiniHdfs hdfs;
    private static String validated;
    private static String unvalidated;
    private static List<JsonNode> rounds;

    @BeforeAll
    static void train() throws Exception {
        hdfs = MiniHdfs.start();
        String manifest = ByteShards.write(hdfs.fileSystem(), new Path(hdfs.uri("/data/bytes")),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 40, 2, -1, 1);
        validated = hdfs.uri("/runs/validated");
        unvalidated = hdfs.uri("/runs/unvalidated");
        assertEquals(0, SparkMoeMain.run(trainArgs(manifest, "validated", 4, "--sync", "barrier", "--validate-every",
                "1", "--validation-sequences", "" + SEQUENCES, "--validation-batch-size", "" + SEQUENCES,
                "--keep-checkpoints", "2")));
        assertEquals(0, SparkMoeMain.run(trainArgs(manifest, "unvalidated", 3)));
        rounds = new ArrayList<>();
        for (String line : MetricsLog.readLines(hdfs.fileSystem(), new Path("/runs/validated/metrics/rounds.jsonl"))) {
            rounds.add(JSON.readTree(line));
        }
    }

    private static String[] trainArgs(String manifest, String runId, int rounds, String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--manifest", manifest, "--runs", hdfs.uri("/runs"),
                "--run-id", runId, "--model", "tiny", "--workers", "1", "--local-steps", "2", "--rounds", "" + rounds,
                "--batch-size", "4", "--seq-len", "32", "--outer-optimizer", "average", "--checkpoint-every", "1",
                "--engine.lr", "1e-2", "--engine.warmup-steps", "2", "--engine.micro-batch", "2",
                "--spark.master", "local[2]", "--spark.driver.host", "localhost"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @AfterAll
    static void stop() {
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        hdfs.close();
    }

    /** evaluate's arguments: the scored sequences as train's validation scored them, no specialisation analysis. */
    private static List<String> evaluateArgs(String run, String... more) {
        List<String> args = new ArrayList<>(List.of("--run", run, "--sequences", "" + SEQUENCES, "--batch-size",
                "" + SEQUENCES, "--disable-top-shares", "", "--activated-experts", "", "--shared-expert-analysis",
                "false", "--spark.master", "local[2]"));
        args.addAll(List.of(more));
        return args;
    }

    private static int evaluate(String run, String... more) {
        List<String> args = new ArrayList<>(List.of("evaluate"));
        args.addAll(evaluateArgs(run, more));
        return SparkMoeMain.run(args.toArray(String[]::new));
    }

    /** The usage error evaluate stops with. */
    private static String refusal(String run, String... more) {
        EvaluateJob job = new EvaluateJob();
        return assertThrows(UsageException.class, () -> job.run(JobSettings.resolve(job, evaluateArgs(run, more))))
                .getMessage();
    }

    private static JsonNode report(String runId, String dir) throws Exception {
        return JSON.readTree(VectorFiles.readText(hdfs.fileSystem(), new Path("/runs/" + runId + "/" + dir
                + "/evaluation.json")));
    }

    private static List<String> checkpoints(String runId) throws Exception {
        List<String> names = new ArrayList<>();
        for (var status : hdfs.fileSystem().listStatus(new Path("/runs/" + runId + "/checkpoints"))) {
            names.add(status.getPath().getName());
        }
        return names.stream().sorted().toList();
    }

    /** The rounds completed at the lowest validation loss rounds.jsonl recorded (every round was validated). */
    private static int lowestRound() {
        int lowest = 0;
        for (int r = 1; r < rounds.size(); r++) {
            if (rounds.get(r).path("validation_loss").asDouble() < rounds.get(lowest).path("validation_loss").asDouble()) {
                lowest = r;
            }
        }
        return lowest + 1;
    }

    @Test
    void trainKeepsTheNewestTwoCheckpointsAndTheLowestValidationLoss() throws Exception {
        assertEquals(4, rounds.size());
        assertTrue(rounds.stream().allMatch(r -> r.path("validation_loss").isNumber()), "validated every round");
        List<String> expected = new ArrayList<>();
        if (lowestRound() < 3) {
            expected.add(String.format("round-%06d", lowestRound()));
        }
        expected.addAll(List.of("round-000003", "round-000004"));
        assertEquals(expected, checkpoints("validated"));
        assertEquals(List.of("round-000001", "round-000002", "round-000003"), checkpoints("unvalidated"),
                "keep-checkpoints=0 keeps every one");
    }

    @Test
    void bestScoresTheCheckpointOfTheLowestValidationLossAsTrainScoredIt() throws Exception {
        assertEquals(0, evaluate(validated, "--parameters", "best"));
        int best = lowestRound();
        String dir = String.format("evaluation-round-%06d", best);
        JsonNode report = report("validated", dir);
        JsonNode parameters = report.path("parameters");
        JsonNode trained = rounds.get(best - 1);
        assertEquals("checkpoints/" + dir.substring("evaluation-".length()), parameters.path("source").asText());
        assertEquals("best", parameters.path("selected_by").asText());
        assertEquals(best, parameters.path("round").asInt());
        assertEquals(trained.path("total_tokens").asLong(), parameters.path("tokens").asLong());
        assertEquals(trained.path("validation_loss").asDouble(),
                parameters.path("training_validation_loss").asDouble(), 0.0);
        // The same parameters, sequences and seq-len, one forward batch of the same micro-batches on one CPU thread:
        // the same bits.
        assertEquals(SEQUENCES, report.path("validation").path("sequences").asInt());
        assertEquals(trained.path("validation_loss").asDouble(), report.path("validation").path("loss").asDouble(),
                0.0, "evaluate's loss of checkpoint " + best + " is train's validation loss of that round");

        String html = VectorFiles.readText(hdfs.fileSystem(), new Path("/runs/validated/" + dir + "/index.html"));
        assertTrue(html.contains("<h1>Evaluation of validated, round " + best + "</h1>"), html);
        assertTrue(html.contains("checkpoints/" + dir.substring("evaluation-".length()))
                && html.contains("lowest validation loss during training"), html);
        assertFalse(hdfs.fileSystem().exists(new Path("/runs/validated/evaluation")),
                "the final parameters' evaluation directory is left alone");
    }

    @Test
    void aNamedRoundIsScoredIntoItsOwnDirectoryAndComparedWithTheSameRoundOfAnotherRun() throws Exception {
        String missing = refusal(validated, "--parameters", "round-000003", "--compare-run", unvalidated);
        assertTrue(missing.contains("evaluation-round-000003/evaluation.json")
                && missing.contains("sparkmoe evaluate --run " + unvalidated + " --parameters round-000003"), missing);

        assertEquals(0, evaluate(unvalidated, "--parameters", "3"));
        JsonNode other = report("unvalidated", "evaluation-round-000003");
        assertEquals("round", other.path("parameters").path("selected_by").asText());
        assertFalse(other.path("parameters").has("training_validation_loss"), "that run recorded none");

        assertEquals(0, evaluate(validated, "--parameters", "round-000003", "--compare-run", unvalidated));
        JsonNode report = report("validated", "evaluation-round-000003");
        JsonNode parameters = report.path("parameters");
        assertEquals("checkpoints/round-000003", parameters.path("source").asText());
        assertEquals("round", parameters.path("selected_by").asText());
        assertEquals(3, parameters.path("round").asInt());
        assertEquals(rounds.get(2).path("validation_loss").asDouble(),
                report.path("validation").path("loss").asDouble(), 0.0);
        JsonNode compared = report.path("specialisation").path("compared_run");
        assertTrue(compared.path("run").asText().endsWith("/runs/unvalidated"), compared.toString());
        assertEquals(other.path("specialisation"), compared.path("specialisation"));
    }

    @Test
    void whatIsMissingIsNamedWithWhatToDo() throws Exception {
        String noValidation = refusal(unvalidated, "--parameters", "best");
        assertTrue(noValidation.contains(unvalidated) && noValidation.contains("recorded no validation loss")
                && noValidation.contains("--validate-every 1"), noValidation);

        String noRound = refusal(validated, "--parameters", "9");
        assertTrue(noRound.contains("checkpoint round-000009 does not exist")
                && noRound.contains("present: " + String.join(", ", checkpoints("validated"))), noRound);

        // A copy of the validated run whose checkpoints were removed.
        FileSystem fs = hdfs.fileSystem();
        FileUtil.copy(fs, new Path("/runs/validated"), fs, new Path("/runs/pruned"), false, fs.getConf());
        fs.delete(new Path("/runs/pruned/checkpoints"), true);
        String noneLeft = refusal(hdfs.uri("/runs/pruned"), "--parameters", "best");
        assertTrue(noneLeft.contains("no checkpoint of a validated round is left")
                && noneLeft.contains("--checkpoint-every 1 --keep-checkpoints N"), noneLeft);

        String bad = refusal(validated, "--parameters", "newest");
        assertTrue(bad.contains("parameters=newest") && bad.contains("round-R"), bad);
    }
}
