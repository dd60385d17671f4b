package org.sparkmoe.jobs.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import javax.imageio.ImageIO;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.charts.Charts;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.shards.TokenDataset;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.jobs.train.VectorFiles;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.moe.RoutingAblation;
import org.sparkmoe.model.train.EvalMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.train.BpeTrainer;
import org.sparkmoe.tokenizer.train.PreTokenCounter;
import org.sparkmoe.tokenizer.train.TrainerConfig;

/**
 * {@code sparkmoe evaluate} on a real small pipeline, MiniDFSCluster and Spark local mode: a BPE tokenizer trained on
 * corpus text, the real {@code tokenize} job writing Arrow shards, a {@code tiny} MoE trained by the real
 * {@code train} job. Bits per byte and every specialisation figure are checked against values derived here without
 * the job: the engine scoring the same sequences on the driver, and the decoded text of the scored token stream.
 */
class EvaluateJobTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SEQ_LEN = 32;
    private static final int SEQUENCES = 12;

    private static MiniHdfs hdfs;
    private static Tokenizer tokenizer;
    private static String manifest;
    private static String run;
    private static String twin;
    private static JsonNode report;

    @BeforeAll
    static void trainAndEvaluate() throws Exception {
        hdfs = MiniHdfs.start();
        FileSystem fs = hdfs.fileSystem();
        List<String> texts = new ArrayList<>();
        for (String line : Files.readAllLines(SharedData.trainCorpus().resolve("en_wikitext.jsonl"))) {
            if (texts.size() < 60 && !line.isBlank()) {
                texts.add(JSON.readTree(line).path("text").asText());
            }
        }
        PreTokenCounter counter = new PreTokenCounter(DeepSeekRules.preTokenizer());
        texts.forEach(counter::add);
        tokenizer = BpeTrainer.train(counter.counts(), TrainerConfig.deepSeek(400, 2));
        VectorFiles.writeText(fs, new Path("/tokenizer/tokenizer.json"), tokenizer.toJson());

        SparkSession spark = LocalSpark.get();
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            rows.add(RowFactory.create("doc-" + i, "en_wikitext", "en", texts.get(i)));
        }
        StructType schema = new StructType().add("id", DataTypes.StringType).add("source", DataTypes.StringType)
                .add("lang", DataTypes.StringType).add("text", DataTypes.StringType);
        spark.createDataFrame(rows, schema).write().parquet(hdfs.uri("/prepared/kept"));
        String tokenizerUri = hdfs.uri("/tokenizer/tokenizer.json");
        assertEquals(0, SparkMoeMain.run("tokenize", "--input", hdfs.uri("/prepared"), "--tokenizer", tokenizerUri,
                "--output", hdfs.uri("/datasets/wiki"), "--validation-ratio", "0.25", "--shard.size-mb", "0.05",
                "--spark.master", "local[2]"));
        manifest = hdfs.uri("/datasets/wiki/v1");
        train("tiny-bpe", "tiny");
        // A GShard-style twin: no shared expert, routed experts 1.5x as wide, so top-2 activates as much as tiny's
        // shared + top-2 (a model preset file, as users give one).
        Properties gshard = new Properties();
        try (var in = EvaluateJobTest.class.getClassLoader().getResourceAsStream("sparkmoe-conf/models/tiny.properties")) {
            gshard.load(in);
        }
        gshard.setProperty("n_shared_experts", "0");
        gshard.setProperty("moe_intermediate_size", "48");
        java.io.StringWriter text = new java.io.StringWriter();
        gshard.store(text, "tiny as a GShard-style twin");
        VectorFiles.writeText(fs, new Path("/models/tiny-gshard.properties"), text.toString());
        train("gshard-twin", hdfs.uri("/models/tiny-gshard.properties"));
        run = hdfs.uri("/runs/tiny-bpe");
        twin = hdfs.uri("/runs/gshard-twin");
        assertEquals(0, SparkMoeMain.run("evaluate", "--run", twin, "--sequences", "" + SEQUENCES, "--batch-size", "4",
                "--spark.master", "local[2]"));
        assertEquals(0, SparkMoeMain.run("evaluate", "--run", run, "--tokenizer", tokenizerUri, "--sequences",
                "" + SEQUENCES, "--batch-size", "4", "--compare-run", twin, "--spark.master", "local[2]"));
        report = JSON.readTree(VectorFiles.readText(fs, new Path("/runs/tiny-bpe/evaluation/evaluation.json")));
    }

    private static void train(String runId, String model) {
        assertEquals(0, SparkMoeMain.run("train", "--manifest", manifest, "--runs", hdfs.uri("/runs"), "--run-id",
                runId, "--model", model, "--workers", "1", "--local-steps", "6", "--rounds", "2",
                "--batch-size", "4", "--seq-len", "" + SEQ_LEN, "--checkpoint-every", "2", "--engine.lr", "1e-2",
                "--engine.warmup-steps", "2", "--engine.micro-batch", "2", "--spark.master", "local[2]"));
    }

    @AfterAll
    static void stop() {
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        hdfs.close();
    }

    /** The trained engine on the driver, with the run's final parameters; micro-batch = all scored sequences. */
    private static TrainingEngine trainedEngine() throws Exception {
        ModelConfig tiny = ModelPresets.load("tiny");
        TrainingEngine engine = TrainingEngine.create(tiny, TrainConfig.forInference(SEQUENCES), new CpuBackend(1), 0);
        engine.writeParameters(VectorFiles.read(hdfs.fileSystem(), new Path("/runs/tiny-bpe/final/parameters.f32")));
        return engine;
    }

    private static int[] scoredSequences() throws Exception {
        int[] tokens = new int[SEQUENCES * (SEQ_LEN + 1)];
        try (TokenDataset dataset = TokenDataset.open(manifest, "validation", SEQ_LEN, hdfs.fileSystem().getConf())) {
            assertTrue(dataset.sequenceCount() >= SEQUENCES, "the validation split must hold " + SEQUENCES
                    + " sequences, has " + dataset.sequenceCount());
            for (int s = 0; s < SEQUENCES; s++) {
                dataset.readSequence(s, tokens, s * (SEQ_LEN + 1));
            }
        }
        return tokens;
    }

    @Test
    void bitsPerByteIsTotalNatsOverLn2OverTheBytesOfTheDecodedText() throws Exception {
        JsonNode validation = report.path("validation");
        assertEquals(SEQUENCES, validation.path("sequences").asInt());
        assertEquals(SEQUENCES * SEQ_LEN, validation.path("targets").asInt());

        // The scored targets are one stretch of the validation token stream (sequence i starts at i·T): decode it
        // whole, so no window boundary cuts a character.
        int[] stream = new int[SEQUENCES * SEQ_LEN];
        try (TokenDataset dataset = TokenDataset.open(manifest, "validation", SEQ_LEN, hdfs.fileSystem().getConf())) {
            dataset.readTokens(1, stream, 0, stream.length);
        }
        String text = tokenizer.decode(stream);
        assertTrue(text.indexOf('\uFFFD') < 0, "the stretch must start and end on whole characters");
        long bytes = text.getBytes(StandardCharsets.UTF_8).length;
        double nats;
        try (TrainingEngine engine = trainedEngine()) {
            EvalMetrics m = engine.evaluate(scoredSequences(), SEQUENCES, SEQ_LEN + 1);
            nats = m.loss() * m.tokens();
        }
        double expected = nats / Math.log(2) / bytes;
        System.out.printf("bits per byte: job %.6f, derived %.6f (%.1f nats, %d bytes)%n",
                validation.path("bits_per_byte").asDouble(), expected, nats, bytes);
        assertEquals(bytes, validation.path("target_bytes").asLong());
        assertEquals(expected, validation.path("bits_per_byte").asDouble(), 1e-6 * expected);
        assertEquals(nats / (SEQUENCES * SEQ_LEN), validation.path("loss").asDouble(), 1e-6);
    }

    @Test
    void specialisationFiguresAreTheEnginesLossUnderEachAblationWithPlots() throws Exception {
        JsonNode spec = report.path("specialisation");
        double baseline = report.path("validation").path("loss").asDouble();
        assertEquals(baseline, spec.path("baseline_loss").asDouble(), 0.0);
        assertEquals(8, spec.path("routed_experts").asInt());
        assertEquals(2, spec.path("experts_per_token").asInt());
        assertEquals(1, spec.path("shared_experts").asInt());

        // tiny has 8 routed experts: the defaults 0, 1/16 .. 4/16 round to 0, 1, 1, 2, 2 disabled experts.
        List<Integer> disabled = new ArrayList<>();
        spec.path("disabled_top_experts").forEach(r -> disabled.add(r.path("disabled_experts").asInt()));
        assertEquals(List.of(0, 1, 2), disabled);
        assertTrue(spec.path("notes").toString().contains("scored once"), spec.path("notes").toString());
        List<Integer> activated = new ArrayList<>();
        spec.path("activated_routed_experts").forEach(r -> activated.add(r.path("activated_experts").asInt()));
        assertEquals(List.of(1, 2), activated, "'all' is 1..K for tiny's top-2");
        assertEquals(3, spec.path("shared_expert").size());

        int[] tokens = scoredSequences();
        ModelConfig tiny = ModelPresets.load("tiny");
        try (TrainingEngine engine = trainedEngine()) {
            for (JsonNode row : spec.path("disabled_top_experts")) {
                RoutingAblation a = RoutingAblation.baseline(tiny).withDisabledTopShare(row.path("share_asked").asDouble());
                check(engine, tokens, a, row, baseline);
            }
            for (JsonNode row : spec.path("activated_routed_experts")) {
                check(engine, tokens, RoutingAblation.baseline(tiny).withActivatedExperts(
                        row.path("activated_experts").asInt()), row, baseline);
            }
            for (JsonNode row : spec.path("shared_expert")) {
                check(engine, tokens, new RoutingAblation(0, row.path("activated_experts").asInt(),
                        row.path("shared_experts").asBoolean()), row, baseline);
            }
        }
        assertNotEquals(baseline, spec.path("disabled_top_experts").get(2).path("loss").asDouble());
        assertTrue(spec.path("ablation_task_seconds").asDouble() > 0);
        for (JsonNode png : spec.path("plots")) {
            try (var in = hdfs.fileSystem().open(new Path("/runs/tiny-bpe/evaluation/" + png.asText()))) {
                assertNotNull(ImageIO.read(in), png + " must be a readable PNG");
            }
        }
        assertEquals(3, spec.path("plots").size());
    }

    private static void check(TrainingEngine engine, int[] tokens, RoutingAblation a, JsonNode row, double baseline) {
        double expected = engine.evaluate(tokens, SEQUENCES, SEQ_LEN + 1, a).loss();
        double loss = row.path("loss").asDouble();
        assertEquals(expected, loss, 1e-6 * expected, a + ": " + row);
        assertEquals(loss - baseline, row.path("loss_increase").asDouble(), 1e-12);
        assertTrue(row.path("bits_per_byte").isNumber(), "with a tokenizer every point has bits per byte: " + row);
        if (a.equals(RoutingAblation.baseline(engine.modelConfig()))) {
            assertEquals(baseline, loss, 0.0, "the trained routing is scored once, by the validation pass");
        }
    }

    @Test
    void aGShardStyleTwinIsScoredWithoutTheSharedAnalysisAndDrawnBesideTheRun() throws Exception {
        JsonNode twinSpec = JSON.readTree(VectorFiles.readText(hdfs.fileSystem(),
                new Path("/runs/gshard-twin/evaluation/evaluation.json"))).path("specialisation");
        assertEquals(0, twinSpec.path("shared_experts").asInt());
        assertEquals(0, twinSpec.path("shared_expert").size(), "no shared expert to disable");
        assertTrue(twinSpec.path("notes").toString().contains("has no shared experts to disable"),
                twinSpec.path("notes").toString());
        assertEquals(3, twinSpec.path("disabled_top_experts").size());
        assertEquals(2, twinSpec.path("activated_routed_experts").size());
        assertEquals(2, twinSpec.path("plots").size(), "no shared-expert plot for a model without one");

        JsonNode compared = report.path("specialisation").path("compared_run");
        assertTrue(compared.path("run").asText().endsWith("/runs/gshard-twin"), compared.path("run").asText());
        assertEquals(twinSpec, compared.path("specialisation"));
        assertNotEquals(twinSpec.path("baseline_loss").asDouble(),
                report.path("specialisation").path("baseline_loss").asDouble(), "two different models");
    }

    @Test
    void everyFigureIsAChartOfTheStatedSizeAndTheIndexPageShowsThemWithTheReportsNumbers() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        Path dir = new Path("/runs/tiny-bpe/evaluation");
        List<String> listed = new ArrayList<>();
        report.path("training").path("plots").forEach(p -> listed.add(p.asText()));
        report.path("specialisation").path("plots").forEach(p -> listed.add(p.asText()));
        List<String> written = new ArrayList<>();
        for (var status : fs.listStatus(dir)) {
            if (status.getPath().getName().endsWith(".png")) {
                written.add(status.getPath().getName());
            }
        }
        assertEquals(new TreeSet<>(written), new TreeSet<>(listed), "evaluation.json lists every PNG written");
        List<String> expected = new ArrayList<>(List.of("loss-curve.png", "validation-expert-load.png"));
        for (JsonNode layer : report.path("validation_expert_load")) {
            expected.add("expert-load-layer-" + layer.path("layer").asInt() + ".png");
        }
        assertTrue(written.containsAll(expected), written + " must hold " + expected);
        for (String png : written) {
            BufferedImage image;
            try (var in = fs.open(new Path(dir, png))) {
                image = ImageIO.read(in);
            }
            assertNotNull(image, png + " must be a readable PNG");
            assertEquals(Charts.WIDTH, image.getWidth(), png);
            assertEquals(Charts.HEIGHT, image.getHeight(), png);
            Set<Integer> colours = new HashSet<>();
            for (int y = 0; y < image.getHeight(); y += 3) {
                for (int x = 0; x < image.getWidth(); x += 3) {
                    colours.add(image.getRGB(x, y));
                }
            }
            assertTrue(colours.size() > 20, png + " must show a chart, has " + colours.size() + " colours");
        }

        String html = VectorFiles.readText(fs, new Path(dir, "index.html"));
        assertEquals(JSON.readTree("{\"source\": \"final\", \"selected_by\": \"final\"}"), report.path("parameters"),
                "the default scores the final parameters");
        assertTrue(html.contains("<h1>Evaluation of tiny-bpe</h1>") && html.contains("the run's final parameters"));
        for (String png : written) {
            assertTrue(html.contains("<img src=\"" + png + "\""), "index.html must show " + png);
        }
        for (String external : List.of("http:", "https:", "<script", "<link", "@import", "url(")) {
            assertFalse(html.contains(external), "index.html must be self-contained, has " + external);
        }
        JsonNode validation = report.path("validation");
        List<String> numbers = new ArrayList<>(List.of(
                format("%.4f", validation.path("loss")), format("%.2f", validation.path("perplexity")),
                format("%.4f", validation.path("bits_per_byte")), format("%,d", validation.path("targets")),
                format("%.4f", report.path("training").path("last_round_loss")),
                format("%,d", report.path("training").path("total_tokens"))));
        for (JsonNode layer : report.path("validation_expert_load")) {
            numbers.add(format("%.4f", layer.path("load_cv")));
            long most = 0;
            for (JsonNode tokens : layer.path("tokens_per_expert")) {
                most = Math.max(most, tokens.asLong());
            }
            assertTrue(most > 0, "validation tokens reached the experts: " + layer);
            numbers.add(String.format(java.util.Locale.ROOT, "%,d", most));
        }
        JsonNode spec = report.path("specialisation");
        for (String analysis : List.of("disabled_top_experts", "activated_routed_experts", "shared_expert")) {
            for (JsonNode row : spec.path(analysis)) {
                numbers.add(format("%.4f", row.path("loss")));
                numbers.add(format("%+.4f", row.path("loss_increase")));
                numbers.add(format("%.4f", row.path("bits_per_byte")));
            }
            if (!analysis.equals("shared_expert")) {
                for (JsonNode row : spec.path("compared_run").path("specialisation").path(analysis)) {
                    numbers.add(format("%.4f", row.path("loss")));
                }
            }
        }
        for (String number : numbers) {
            assertTrue(html.contains(">" + number + "<"), "index.html must show " + number);
        }
        assertTrue(html.contains("gshard-twin"), "the compared run is named");
    }

    private static String format(String pattern, JsonNode number) {
        assertTrue(number.isNumber(), "evaluation.json must hold a number here: " + number);
        Object value = pattern.endsWith("d") ? (Object) number.asLong() : (Object) number.asDouble();
        return String.format(java.util.Locale.ROOT, pattern, value);
    }

    @Test
    void badAnalysisSettingsStopWithStatusTwo() {
        assertEquals(2, SparkMoeMain.run("evaluate", "--run", run, "--disable-top-shares", "0,1/0",
                "--spark.master", "local[2]"));
        assertEquals(2, SparkMoeMain.run("evaluate", "--run", run, "--disable-top-shares", "1.5",
                "--spark.master", "local[2]"));
        assertEquals(2, SparkMoeMain.run("evaluate", "--run", run, "--activated-experts", "two",
                "--spark.master", "local[2]"));
        assertEquals(2, SparkMoeMain.run("evaluate", "--run", run, "--compare-run", hdfs.uri("/runs/not-evaluated"),
                "--spark.master", "local[2]"));
    }
}
