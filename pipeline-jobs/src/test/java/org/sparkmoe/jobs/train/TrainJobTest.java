package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * {@code sparkmoe train} and {@code sparkmoe evaluate} as a user runs them: the real engine's {@code tiny} MoE
 * preset on real token shards (byte-level ids of corpus documents) on a MiniDFSCluster, Spark local mode.
 */
class TrainJobTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static MiniHdfs hdfs;
    private static String manifest;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        manifest = ByteShards.write(hdfs.fileSystem(), new Path(hdfs.uri("/data/bytes")),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 40, 2, -1, 1);
    }

    @AfterAll
    static void stop() {
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        hdfs.close();
    }

    private static String[] trainArgs(String runId, int workers, int localSteps, int rounds, String outer, String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--manifest", manifest, "--runs", hdfs.uri("/runs"),
                "--run-id", runId, "--model", "tiny", "--workers", "" + workers, "--local-steps", "" + localSteps,
                "--rounds", "" + rounds, "--batch-size", "4", "--seq-len", "32", "--outer-optimizer", outer,
                "--checkpoint-every", "2", "--engine.lr", "1e-2", "--engine.warmup-steps", "2",
                "--engine.micro-batch", "2", "--spark.master", "local[2,4]", "--spark.driver.host", "localhost"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    private static List<JsonNode> rounds(String runId) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : MetricsLog.readLines(hdfs.fileSystem(), new Path("/runs/" + runId + "/metrics/rounds.jsonl"))) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    @Test
    void tinyMoeTrainsWithTwoWorkersItsLossFallsAndEvaluateReadsTheRun() throws Exception {
        assertEquals(0, SparkMoeMain.run(trainArgs("tiny-w2", 2, 3, 4, "diloco")));
        List<JsonNode> rounds = rounds("tiny-w2");
        assertEquals(4, rounds.size());
        double first = rounds.getFirst().path("loss").asDouble();
        double last = rounds.getLast().path("loss").asDouble();
        assertTrue(last < first - 0.3, "loss must fall: first round " + first + ", last " + last);

        JsonNode experts = rounds.getLast().path("experts");
        assertEquals(1, experts.size(), "tiny has one MoE layer (layer 0 stays dense)");
        long routed = 0;
        for (JsonNode count : experts.get(0).path("tokens_per_expert")) {
            routed += count.asLong();
        }
        // Each worker's last step routes every input token to top-2 of 8 experts.
        assertEquals(2L * 4 * 32 * 2, routed);
        assertTrue(experts.get(0).path("router_entropy").asDouble() > 0);
        assertTrue(rounds.getLast().path("aux_losses").has("expert_balance"));
        assertTrue(rounds.getLast().path("aux_losses").has("cross_entropy"));

        // final/ holds the model in the engine's format too; loading it gives back the trained parameters.
        java.nio.file.Path local = java.nio.file.Files.createTempDirectory("tiny-w2-final");
        hdfs.fileSystem().copyToLocalFile(new Path("/runs/tiny-w2/final/config.json"), new Path(local.resolve("config.json").toUri()));
        hdfs.fileSystem().copyToLocalFile(new Path("/runs/tiny-w2/final/model.safetensors"),
                new Path(local.resolve("model.safetensors").toUri()));
        float[] trained = VectorFiles.read(hdfs.fileSystem(), new Path("/runs/tiny-w2/final/parameters.f32"));
        try (TrainingEngine loaded = Checkpoints.load(local, TrainConfig.forInference(4), new CpuBackend(1))) {
            float[] back = new float[Math.toIntExact(loaded.parameterCount())];
            loaded.readParameters(back);
            assertArrayEquals(trained, back);
        }
        assertTrue(!hdfs.fileSystem().exists(new Path("/runs/tiny-w2/final/optimizer.safetensors")));

        String run = hdfs.uri("/runs/tiny-w2");
        assertEquals(0, SparkMoeMain.run("evaluate", "--run", run, "--sequences", "16", "--batch-size", "4",
                "--spark.master", "local[2]"));
        FileSystem fs = hdfs.fileSystem();
        JsonNode report = JSON.readTree(VectorFiles.readText(fs, new Path("/runs/tiny-w2/evaluation/evaluation.json")));
        JsonNode validation = report.path("validation");
        assertEquals(16, validation.path("sequences").asInt());
        assertEquals(16 * 32, validation.path("targets").asInt());
        double loss = validation.path("loss").asDouble();
        assertTrue(loss > 0 && loss < Math.log(512), "validation loss " + loss + " must beat a uniform guess");
        assertEquals(Math.exp(loss), validation.path("perplexity").asDouble(), 1e-9);
        long validationRouted = 0;
        for (JsonNode count : report.path("validation_expert_load").get(0).path("tokens_per_expert")) {
            validationRouted += count.asLong();
        }
        assertEquals(16L * 32 * 2, validationRouted);
        for (String png : List.of("loss-curve.png", "expert-load-layer-1.png", "validation-expert-load.png")) {
            try (var in = fs.open(new Path("/runs/tiny-w2/evaluation/" + png))) {
                assertNotNull(ImageIO.read(in), png + " must be a readable PNG");
            }
        }
    }

    @Test
    void aModelConfigOverrideIsRecordedSoEvaluateAndResumeBuildTheSameModel() throws Exception {
        String[] args = trainArgs("tiny-3-layers", 1, 1, 2, "average", "--num_hidden_layers", "3");
        assertEquals(0, SparkMoeMain.run(args));
        FileSystem fs = hdfs.fileSystem();
        JobSettings recorded = new RunDirectory(hdfs.uri("/runs/tiny-3-layers")).readResolvedConfig(fs);
        assertEquals(java.util.Map.of("num_hidden_layers", "3"), recorded.overrides());
        JsonNode model = JSON.readTree(VectorFiles.readText(fs, new Path("/runs/tiny-3-layers/model.json")));
        assertEquals("3", model.path("model_config").path("num_hidden_layers").asText());
        assertEquals("tiny with num_hidden_layers=3", model.path("model").asText());
        int threeLayers = org.sparkmoe.model.decoder.ParameterInit.initialValues(
                org.sparkmoe.model.config.ModelPresets.load("tiny"), 1).length;
        assertTrue(VectorFiles.read(fs, new Path("/runs/tiny-3-layers/final/parameters.f32")).length > threeLayers,
                "the third layer's parameters are there");

        assertEquals(0, SparkMoeMain.run("evaluate", "--run", hdfs.uri("/runs/tiny-3-layers"), "--sequences", "4",
                "--batch-size", "4", "--disable-top-shares", "", "--activated-experts", "",
                "--shared-expert-analysis", "false", "--spark.master", "local[2]"));

        String[] otherModel = Stream.concat(Stream.of(trainArgs("tiny-3-layers", 1, 1, 3, "average")),
                Stream.of("--resume", "true")).toArray(String[]::new);
        String err = captureStderr(() -> assertEquals(2, SparkMoeMain.run(otherModel)));
        assertTrue(err.contains("num_hidden_layers=3 (this command: 2)"), err);
        assertEquals(0, SparkMoeMain.run(trainArgs("tiny-3-layers", 1, 1, 3, "average", "--num_hidden_layers", "3",
                "--resume", "true")));
        assertEquals(3, rounds("tiny-3-layers").size());
    }

    @Test
    void validationDuringBarrierTrainingScoresWhatEvaluateScoresOnTheSameParameters() throws Exception {
        int sequences = 10;
        for (int workers : new int[] {1, 2}) {
            String runId = "tiny-validated-w" + workers;
            // Validation batches of 3 (the last one short) against evaluate's of 4 spread over its tasks: the
            // figure depends on the parameters and the sequences only.
            assertEquals(0, SparkMoeMain.run(trainArgs(runId, workers, 2, 3, "diloco", "--sync", "barrier",
                    "--validate-every", "2", "--validation-sequences", "" + sequences, "--validation-batch-size",
                    "3")));
            List<JsonNode> rounds = rounds(runId);
            // Every 2 rounds (after round index 1) and after the last (index 2).
            assertEquals(List.of(false, true, true), rounds.stream().map(r -> r.has("validation_loss")).toList(),
                    "W=" + workers + ": " + rounds);
            assertEquals(List.of(false, true, true), rounds.stream().map(r -> r.path("phases").has("worker.validate"))
                    .toList());
            assertFalse(rounds.getFirst().has("validation_tokens"));
            for (JsonNode round : rounds.subList(1, 3)) {
                assertEquals(sequences * 32L, round.path("validation_tokens").asLong(),
                        "the ranks' shares cover every target of the " + sequences + " sequences once");
            }
            double during = rounds.getLast().path("validation_loss").asDouble();
            assertTrue(during > 0 && during < Math.log(512), "validation loss " + during);

            assertEquals(0, SparkMoeMain.run("evaluate", "--run", hdfs.uri("/runs/" + runId), "--sequences",
                    "" + sequences, "--batch-size", "4", "--disable-top-shares", "", "--activated-experts", "",
                    "--shared-expert-analysis", "false", "--spark.master", "local[2]"));
            JsonNode validation = JSON.readTree(VectorFiles.readText(hdfs.fileSystem(),
                    new Path("/runs/" + runId + "/evaluation/evaluation.json"))).path("validation");
            assertEquals(sequences, validation.path("sequences").asInt());
            double evaluated = validation.path("loss").asDouble();
            assertEquals(evaluated, during, 1e-6 * evaluated,
                    "W=" + workers + ": the last round's validation_loss is evaluate's on the final parameters");
            // Scoring leaves training as it was.
            assertEquals(0, SparkMoeMain.run(trainArgs(runId + "-off", workers, 2, 3, "diloco", "--sync", "barrier")));
            assertArrayEquals(VectorFiles.read(hdfs.fileSystem(), new Path("/runs/" + runId + "-off/final/parameters.f32")),
                    VectorFiles.read(hdfs.fileSystem(), new Path("/runs/" + runId + "/final/parameters.f32")));
        }
    }

    @Test
    void theDriverPathRefusesValidationDuringTraining() throws Exception {
        String err = captureStderr(() -> assertEquals(2, SparkMoeMain.run(trainArgs("tiny-driver-validated", 1, 1, 2,
                "average", "--sync", "driver", "--validate-every", "1"))));
        assertTrue(err.contains("validate-every=1") && err.contains("sync=driver") && err.contains("--sync barrier"),
                err);
        assertFalse(hdfs.fileSystem().exists(new Path("/runs/tiny-driver-validated")), "refused before it starts");
    }

    private static String captureStderr(Runnable body) {
        java.io.PrintStream original = System.err;
        java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(buffer, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            body.run();
        } finally {
            System.setErr(original);
        }
        return buffer.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    @Test
    void failureInjectionIsNoUserOption() {
        // --help prints options() with the bundled defaults of conf/train.properties: neither has a test hook.
        assertTrue(new TrainJob().options().stream().noneMatch(o -> o.key().startsWith("test.")));
        assertTrue(JobSettings.resolve(new TrainJob(), List.of("--manifest", manifest)).asMap().keySet().stream()
                .noneMatch(k -> k.startsWith("test.")));
        org.sparkmoe.jobs.cli.UsageException e = org.junit.jupiter.api.Assertions.assertThrows(
                org.sparkmoe.jobs.cli.UsageException.class, () -> JobSettings.resolve(new TrainJob(),
                        List.of("--manifest", manifest, "--test.fail-once-partition", "0")));
        assertTrue(e.getMessage().contains("test.fail-once-partition"), e.getMessage());
    }

    @Test
    void oneWorkerOneLocalStepEqualsTheEnginesOwnLoop() throws Exception {
        int steps = 4;
        String[] args = trainArgs("tiny-w1-h1", 1, 1, steps, "average");
        assertEquals(0, SparkMoeMain.run(args));
        float[] trained = VectorFiles.read(hdfs.fileSystem(), new Path("/runs/tiny-w1-h1/final/parameters.f32"));

        JobSettings settings = JobSettings.resolve(new TrainJob(), List.of(args).subList(1, args.length));
        TrainSettings train = TrainSettings.from(settings);
        EngineTrainerFactory factory = EngineTrainerFactory.fromSettings(settings, train, ByteShards.TOKENIZER_SHA,
                hdfs.fileSystem().getConf());
        ShardTrainingData data = ShardTrainingData.open(manifest, train.seed(), false, hdfs.fileSystem().getConf());
        float[] expected;
        try (TrainingEngine engine = TrainingEngine.create(factory.modelConfig(), factory.trainConfig(), new CpuBackend(1), train.seed());
             TrainingData.TokenStream stream = data.open(0, 1, 32, null)) {
            for (int i = 0; i < steps; i++) {
                engine.step(stream.next(4), 4, 33);
            }
            expected = new float[Math.toIntExact(engine.parameterCount())];
            engine.readParameters(expected);
        }
        assertArrayEquals(expected, trained, "W=1, H=1 must be bit-identical to the engine's own loop");
    }

    @Test
    void resumingFromTheLastCompleteCheckpointReproducesTheRunBitForBit() throws Exception {
        String[] args = trainArgs("tiny-resume", 2, 2, 4, "diloco");
        assertEquals(0, SparkMoeMain.run(args));
        FileSystem fs = hdfs.fileSystem();
        float[] uninterrupted = VectorFiles.read(fs, new Path("/runs/tiny-resume/final/parameters.f32"));
        List<Double> losses = rounds("tiny-resume").stream().map(r -> r.path("loss").asDouble()).toList();

        // As if the run died after round 3: round 4's checkpoint and the final model were never written.
        fs.delete(new Path("/runs/tiny-resume/checkpoints/round-000004"), true);
        fs.delete(new Path("/runs/tiny-resume/final"), true);
        assertEquals(2, SparkMoeMain.run(args), "an existing run directory without --resume is refused");
        assertEquals(0, SparkMoeMain.run(Stream.concat(Stream.of(args), Stream.of("--resume", "true")).toArray(String[]::new)));

        assertArrayEquals(uninterrupted, VectorFiles.read(fs, new Path("/runs/tiny-resume/final/parameters.f32")));
        assertEquals(losses, rounds("tiny-resume").stream().map(r -> r.path("loss").asDouble()).toList());
    }
}
