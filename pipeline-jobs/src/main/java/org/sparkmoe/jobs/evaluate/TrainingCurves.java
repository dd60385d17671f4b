package org.sparkmoe.jobs.evaluate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.charts.Charts;
import org.sparkmoe.jobs.charts.Series;
import org.sparkmoe.jobs.io.AtomicPublish;
import org.sparkmoe.jobs.train.MetricsLog;
import org.sparkmoe.jobs.train.RunDirectory;

/**
 * What a run's metrics show, drawn and summarised into the evaluation's directory: {@code loss-curve.png} (training loss
 * against tokens, per round), {@code expert-load-layer-L.png} (one heat map per MoE layer: routed experts x rounds,
 * the tokens each expert received in the round's last local steps) and the figures for {@code evaluation.json}.
 */
public final class TrainingCurves {

    private static final ObjectMapper JSON = new ObjectMapper();

    private TrainingCurves() {}

    /** Writes the plots into {@code dir} and returns the training-curve section of the evaluation report. */
    public static ObjectNode write(RunDirectory run, Path dir) throws IOException {
        FileSystem fs = run.fileSystem();
        if (!fs.exists(run.roundMetrics())) {
            throw new IllegalArgumentException("run directory " + run.uri() + " has no metrics/rounds.jsonl: it is not"
                    + " a train run directory, or the run has not finished a round yet");
        }
        List<JsonNode> rounds = new ArrayList<>();
        for (String line : MetricsLog.readLines(fs, run.roundMetrics())) {
            rounds.add(JSON.readTree(line));
        }
        double[] tokens = new double[rounds.size()];
        double[] loss = new double[rounds.size()];
        Map<Integer, List<double[]>> loadByLayer = new TreeMap<>();
        for (int i = 0; i < rounds.size(); i++) {
            JsonNode r = rounds.get(i);
            tokens[i] = r.path("total_tokens").asDouble();
            loss[i] = r.path("loss").isNumber() ? r.path("loss").asDouble() : Double.NaN;
            for (JsonNode layer : r.path("experts")) {
                JsonNode counts = layer.path("tokens_per_expert");
                double[] row = new double[counts.size()];
                for (int e = 0; e < row.length; e++) {
                    row[e] = counts.path(e).asDouble();
                }
                loadByLayer.computeIfAbsent(layer.path("layer").asInt(), k -> new ArrayList<>()).add(row);
            }
        }
        fs.mkdirs(dir);
        writePng(fs, new Path(dir, "loss-curve.png"), Charts.lines("Training loss per round",
                "tokens trained", "loss", Map.of("training loss", new Series(tokens, loss)), false));
        ObjectNode out = JSON.createObjectNode();
        out.put("rounds", rounds.size());
        out.put("total_tokens", rounds.isEmpty() ? 0 : (long) tokens[tokens.length - 1]);
        out.put("first_round_loss", rounds.isEmpty() ? Double.NaN : loss[0]);
        out.put("last_round_loss", rounds.isEmpty() ? Double.NaN : loss[loss.length - 1]);
        var plots = out.putArray("plots").add("loss-curve.png");
        for (Map.Entry<Integer, List<double[]>> layer : loadByLayer.entrySet()) {
            double[][] load_RE = layer.getValue().toArray(new double[0][]);
            String name = "expert-load-layer-" + layer.getKey() + ".png";
            writePng(fs, new Path(dir, name), Charts.heatmap("Tokens per routed expert in each round,"
                    + " layer " + layer.getKey(), "routed expert", numbers(0, load_RE[0].length), "round",
                    numbers(1, load_RE.length), load_RE, "tokens"));
            plots.add(name);
        }
        return out;
    }

    /** Labels {@code first}, {@code first + 1}, ... for {@code count} rows or columns. */
    static List<String> numbers(int first, int count) {
        return IntStream.range(first, first + count).mapToObj(Integer::toString).toList();
    }

    static void writePng(FileSystem fs, Path target, BufferedImage image) throws IOException {
        AtomicPublish.writeFile(fs, target, out -> Charts.writePng(image, out));
    }
}
