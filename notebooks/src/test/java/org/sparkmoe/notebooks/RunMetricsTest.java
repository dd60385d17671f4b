package org.sparkmoe.notebooks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.charts.Series;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * The run viewer and comparison on real runs: the notebooks' own small dataset of real corpus text, trained by
 * the real {@code train} job (tiny MoE, two workers) and scored by {@code evaluate}; every figure is checked
 * against the run's JSON lines read independently.
 */
class RunMetricsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    private static String diloco;
    private static String average;

    @BeforeAll
    static void train() throws Exception {
        LocalSpark.get();
        String manifest = ByteLevelDataset.write(dir.resolve("bytes").toUri().toString(),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl").toUri().toString(), 24,
                SharedData.validationCorpus().resolve("en.jsonl").toUri().toString(), 6);
        String runs = dir.resolve("runs").toUri().toString();
        diloco = new SmallRun(runs, "diloco", manifest, "diloco", 2, 3, 2).ensure();
        average = new SmallRun(runs, "average", manifest, "average", 2, 2, 2).ensure();
    }

    @Test
    void roundCurvesAreTheJsonLines() throws Exception {
        RunMetrics m = RunMetrics.open(diloco);
        List<JsonNode> lines = lines(diloco, "metrics/rounds.jsonl");
        assertEquals(3, m.rounds());
        assertEquals(lines.size(), m.rounds());
        double[] loss = lines.stream().mapToDouble(l -> l.path("loss").asDouble()).toArray();
        assertArrayEquals(loss, m.perRound("loss").y(), 1e-12);
        assertArrayEquals(lines.stream().mapToDouble(l -> l.path("round").asDouble()).toArray(), m.perRound("loss").x());
        assertEquals(lines.getLast().path("total_tokens").asDouble(), m.perToken("loss").x()[2]);
        assertFalse(m.auxLossNames().isEmpty(), "the MoE logs its balance loss");
        assertEquals(3, m.auxLossPerRound(m.auxLossNames().getFirst()).size());
        assertTrue(m.perStep(0, "loss").size() >= 3 * 2, "two local steps per round for worker 0");
    }

    @Test
    void expertLoadIsEachExpertsShareOfTheLayersTokens() throws Exception {
        RunMetrics m = RunMetrics.open(diloco);
        assertEquals(List.of(1), m.moeLayers(), "tiny: layer 0 dense, layer 1 MoE");
        double[][] load_ER = m.expertLoad(1);
        assertEquals(8, load_ER.length, "tiny has 8 routed experts");
        JsonNode first = lines(diloco, "metrics/rounds.jsonl").getFirst().path("experts").get(0);
        double total = 0;
        for (JsonNode c : first.path("tokens_per_expert")) {
            total += c.asDouble();
        }
        for (int e = 0; e < 8; e++) {
            assertEquals(first.path("tokens_per_expert").get(e).asDouble() / total, load_ER[e][0], 1e-12);
        }
        assertEquals(first.path("load_cv").asDouble(), m.loadCv(1).y()[0], 1e-12);
    }

    @Test
    void viewerAndComparisonDraw() throws Exception {
        RunViewer viewer = RunViewer.of(diloco);
        Map<String, java.awt.image.BufferedImage> charts = new java.util.LinkedHashMap<>();
        charts.put("loss", viewer.lossChart());
        charts.put("auxiliary losses", viewer.auxLossChart());
        charts.put("throughput", viewer.throughputChart());
        charts.put("learning rate", viewer.learningRateChart());
        charts.put("expert load heat map", viewer.expertLoadHeatmap(1));
        charts.put("load balance", viewer.loadBalanceChart());
        RunComparison comparison = RunComparison.of(diloco, average);
        charts.put("compared loss", comparison.lossChart());
        charts.put("compared throughput", comparison.throughputChart());
        charts.put("compared load balance", comparison.loadBalanceChart(1));
        for (Map.Entry<String, java.awt.image.BufferedImage> chart : charts.entrySet()) {
            ChartImages.assertChart(chart.getValue(), chart.getKey());
        }
        // evaluate drew the run's own figures with the same charts, and one page that shows them.
        Path evaluated = Path.of(java.net.URI.create(diloco)).resolve("evaluation");
        String page = Files.readString(evaluated.resolve("index.html"));
        for (JsonNode png : JSON.readTree(Files.readString(evaluated.resolve("evaluation.json")))
                .path("training").path("plots")) {
            ChartImages.assertChart(javax.imageio.ImageIO.read(evaluated.resolve(png.asText()).toFile()), png.asText());
            assertTrue(page.contains("<img src=\"" + png.asText() + "\""), png.asText() + " on index.html");
        }
        Map<String, Map<String, Double>> summary = comparison.summary();
        assertEquals(List.of("diloco", "average"), new ArrayList<>(summary.keySet()));
        JsonNode evaluation = JSON.readTree(Files.readString(Path.of(java.net.URI.create(diloco))
                .resolve("evaluation/evaluation.json")));
        assertEquals(evaluation.path("validation").path("loss").asDouble(), summary.get("diloco").get("validation_loss"));
        assertTrue(Double.isFinite(summary.get("average").get("final_train_loss")));
    }

    @Test
    void specialisationViewShowsWhatEvaluateWrote() throws Exception {
        // An older evaluation without the analyses: the view names the run and leaves it out.
        Path older = dir.resolve("runs-older/older");
        Files.createDirectories(older.resolve("metrics"));
        Files.createDirectories(older.resolve("evaluation"));
        Path source = Path.of(java.net.URI.create(diloco));
        Files.copy(source.resolve("metrics/rounds.jsonl"), older.resolve("metrics/rounds.jsonl"));
        Files.writeString(older.resolve("evaluation/evaluation.json"), "{\"validation\": {\"loss\": 3.0}}");

        SpecialisationView view = SpecialisationView.of(diloco, average, older.toUri().toString());
        assertEquals(List.of("older"), view.missing());
        JsonNode spec = JSON.readTree(Files.readString(source.resolve("evaluation/evaluation.json")))
                .path("specialisation");
        List<double[]> disabled = new ArrayList<>();
        spec.path("disabled_top_experts").forEach(r -> disabled.add(
                new double[] {r.path("disabled_share").asDouble(), r.path("loss").asDouble()}));
        disabled.sort((a, b) -> Double.compare(a[0], b[0]));
        Series shown = view.disabledTopExperts("diloco");
        assertArrayEquals(disabled.stream().mapToDouble(p -> p[0]).toArray(), shown.x());
        assertArrayEquals(disabled.stream().mapToDouble(p -> p[1]).toArray(), shown.y());
        assertArrayEquals(new double[] {0, 0.125, 0.25}, shown.x(), "tiny: 0, 1 and 2 of 8 experts disabled");
        assertArrayEquals(new double[] {1, 2}, view.activatedExperts("diloco").x());
        assertEquals(spec.path("baseline_loss").asDouble(), view.activatedExperts("diloco").y()[1]);
        assertArrayEquals(new double[] {2}, view.sharedExpert("diloco", true).x());
        assertArrayEquals(new double[] {2, 3}, view.sharedExpert("diloco", false).x());
        Map<String, Map<String, Object>> summary = view.summary();
        assertEquals(List.of("diloco", "average"), new ArrayList<>(summary.keySet()));
        assertEquals(spec.path("baseline_loss").asDouble(), summary.get("diloco").get("trained routing"));
        String table = view.table();
        assertTrue(table.contains(String.format(java.util.Locale.ROOT, "%.4f (+0.0000)",
                spec.path("baseline_loss").asDouble())), table);
        for (String setting : List.of("2/8 top disabled", "1 routed", "shared off, 3 routed")) {
            assertTrue(table.lines().anyMatch(l -> l.startsWith(setting)), setting + " in\n" + table);
        }
        ChartImages.assertChart(view.disabledTopExpertsChart(), "disabled top experts");
        ChartImages.assertChart(view.activatedExpertsChart(), "activated experts");
        ChartImages.assertChart(view.sharedExpertChart(), "shared expert");
    }

    private static List<JsonNode> lines(String run, String file) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(java.net.URI.create(run)).resolve(file))) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        return out;
    }
}
