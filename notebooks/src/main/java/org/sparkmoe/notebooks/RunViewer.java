package org.sparkmoe.notebooks;

import java.awt.image.BufferedImage;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.sparkmoe.jobs.charts.Charts;
import org.sparkmoe.jobs.charts.Series;

/** Notebook 2's plots of one run: loss, auxiliary losses, tokens per second, learning rate, expert load. */
public final class RunViewer {

    private final RunMetrics metrics;

    public RunViewer(RunMetrics metrics) {
        this.metrics = metrics;
    }

    public static RunViewer of(String runDirectory) throws java.io.IOException {
        return new RunViewer(RunMetrics.open(runDirectory));
    }

    public RunMetrics metrics() {
        return metrics;
    }

    public BufferedImage lossChart() {
        return Charts.lines("Training loss — " + metrics.name(), "round", "loss",
                Map.of("loss (mean over workers)", metrics.perRound("loss")), false);
    }

    public BufferedImage auxLossChart() {
        Map<String, Series> curves = new LinkedHashMap<>();
        for (String name : metrics.auxLossNames()) {
            curves.put(name, metrics.auxLossPerRound(name));
        }
        return Charts.lines("Auxiliary losses — " + metrics.name(), "round", "loss", curves, false);
    }

    public BufferedImage throughputChart() {
        return Charts.lines("Tokens per second — " + metrics.name(), "round", "tokens/s",
                Map.of("tokens/s", metrics.perRound("tokens_per_second")), false);
    }

    public BufferedImage learningRateChart() {
        return Charts.lines("Learning rate — " + metrics.name(), "round", "learning rate",
                Map.of("learning rate", metrics.perRound("learning_rate")), false);
    }

    /** Share of tokens per expert (y) over rounds (x) for one MoE layer. */
    public BufferedImage expertLoadHeatmap(int layer) {
        double[][] load_ER = metrics.expertLoad(layer);
        return Charts.heatmap("Expert load, layer " + layer + " — " + metrics.name(), "round",
                numbers(1, load_ER.length == 0 ? 0 : load_ER[0].length), "routed expert", numbers(0, load_ER.length),
                load_ER, "share of routed tokens");
    }

    private static List<String> numbers(int first, int count) {
        return IntStream.range(first, first + count).mapToObj(Integer::toString).toList();
    }

    /** Coefficient of variation of the expert load per MoE layer over rounds. */
    public BufferedImage loadBalanceChart() {
        Map<String, Series> curves = new LinkedHashMap<>();
        for (int layer : metrics.moeLayers()) {
            curves.put("layer " + layer, metrics.loadCv(layer));
        }
        return Charts.lines("Expert load imbalance (coefficient of variation) — " + metrics.name(), "round", "CV",
                curves, false);
    }
}
