package org.sparkmoe.notebooks;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkmoe.jobs.charts.Charts;
import org.sparkmoe.jobs.charts.Series;

/**
 * Notebook 3: several runs side by side (for example DeepSeekMoE against GShard routing, or DiLoCo against plain
 * averaging), on the tokens each has trained on, so runs with different batch sizes compare fairly.
 */
public final class RunComparison {

    private final List<RunMetrics> runs;

    public RunComparison(List<RunMetrics> runs) {
        if (runs.isEmpty()) {
            throw new IllegalArgumentException("a comparison needs at least one run directory");
        }
        this.runs = List.copyOf(runs);
    }

    public static RunComparison of(String... runDirectories) throws IOException {
        List<RunMetrics> runs = new ArrayList<>();
        for (String dir : runDirectories) {
            runs.add(RunMetrics.open(dir));
        }
        return new RunComparison(runs);
    }

    /** Training loss of each run against tokens trained. */
    public BufferedImage lossChart() {
        return overlay("Training loss by tokens trained", "tokens", "loss", m -> m.perToken("loss"));
    }

    public BufferedImage throughputChart() {
        return overlay("Tokens per second", "round", "tokens/s", m -> m.perRound("tokens_per_second"));
    }

    /** Expert load imbalance of one MoE layer for each run. */
    public BufferedImage loadBalanceChart(int layer) {
        return overlay("Expert load CV, layer " + layer, "round", "CV", m -> m.loadCv(layer));
    }

    /**
     * One row per run: final training loss, tokens, mean tokens/s, and the evaluate job's validation loss,
     * perplexity and bits per byte when present (NaN otherwise).
     */
    public Map<String, Map<String, Double>> summary() throws IOException {
        Map<String, Map<String, Double>> rows = new LinkedHashMap<>();
        for (RunMetrics m : runs) {
            Map<String, Double> row = new LinkedHashMap<>();
            Series byTokens = m.perToken("loss");
            row.put("final_train_loss", byTokens.last());
            row.put("total_tokens", byTokens.isEmpty() ? Double.NaN : byTokens.x()[byTokens.size() - 1]);
            double[] tps = m.perRound("tokens_per_second").y();
            row.put("mean_tokens_per_second", tps.length == 0 ? Double.NaN : java.util.Arrays.stream(tps).average().orElse(Double.NaN));
            JsonNode validation = m.evaluation().map(e -> e.path("validation")).orElse(null);
            for (String key : List.of("loss", "perplexity", "bits_per_byte")) {
                JsonNode v = validation == null ? null : validation.path(key);
                row.put("validation_" + key, v != null && v.isNumber() ? v.asDouble() : Double.NaN);
            }
            rows.put(m.name(), row);
        }
        return rows;
    }

    private BufferedImage overlay(String title, String x, String y, java.util.function.Function<RunMetrics, Series> f) {
        Map<String, Series> curves = new LinkedHashMap<>();
        for (RunMetrics m : runs) {
            curves.put(m.name(), f.apply(m));
        }
        return Charts.lines(title, x, y, curves, false);
    }
}
