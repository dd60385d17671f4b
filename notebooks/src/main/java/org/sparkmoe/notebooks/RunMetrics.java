package org.sparkmoe.notebooks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.charts.Series;

/**
 * The metrics of one training run, read from its run directory on any Hadoop filesystem: the train job's
 * {@code metrics/rounds.jsonl} (one JSON object per round) and {@code metrics/steps.jsonl} (one per local step of
 * each worker), plus {@code evaluation/evaluation.json} when {@code evaluate} has run. Reading a run that is still
 * training is fine: the trainer flushes whole lines, and {@link #reload()} picks up new ones.
 *
 * <p>Field names are the trainer's (docs/training.md): {@code round, loss, learning_rate, grad_norm, tokens,
 * tokens_per_second, aux_losses{name}, experts[{layer, tokens_per_expert[], load_cv, router_entropy}]}; steps add
 * {@code worker, step, global_step}.
 */
public final class RunMetrics {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String run;
    private final Configuration conf;
    private List<JsonNode> rounds;
    private List<JsonNode> steps;

    private RunMetrics(String run, Configuration conf) throws IOException {
        this.run = run.endsWith("/") ? run.substring(0, run.length() - 1) : run;
        this.conf = conf;
        reload();
    }

    /** The run directory {@code <runs>/<run-id>} (any Hadoop URI or local path). */
    public static RunMetrics open(String runDirectory) throws IOException {
        return new RunMetrics(runDirectory, new Configuration());
    }

    /** Reads the JSON lines again (a run in progress has more of them). */
    public RunMetrics reload() throws IOException {
        Path roundsFile = new Path(run, "metrics/rounds.jsonl");
        if (!roundsFile.getFileSystem(conf).exists(roundsFile)) {
            throw new IllegalArgumentException(run + " has no metrics/rounds.jsonl: give the run directory a"
                    + " 'sparkmoe train' run writes (<runs>/<run-id>)");
        }
        rounds = lines(roundsFile);
        Path stepsFile = new Path(run, "metrics/steps.jsonl");
        steps = stepsFile.getFileSystem(conf).exists(stepsFile) ? lines(stepsFile) : List.of();
        return this;
    }

    public String run() {
        return run;
    }

    /** The run's id: the last part of its directory. */
    public String name() {
        return new Path(run).getName();
    }

    public int rounds() {
        return rounds.size();
    }

    /** A numeric round field against the round number, e.g. {@code loss}, {@code tokens_per_second}. */
    public Series perRound(String field) {
        return series(rounds, "round", n -> n.path(field));
    }

    /** A numeric round field against the tokens trained so far ({@code total_tokens}), to compare runs fairly. */
    public Series perToken(String field) {
        return series(rounds, "total_tokens", n -> n.path(field));
    }

    /** One auxiliary loss per round, e.g. {@code expert_balance}. */
    public Series auxLossPerRound(String name) {
        return series(rounds, "round", n -> n.path("aux_losses").path(name));
    }

    /** The auxiliary losses the run logs, by name. */
    public List<String> auxLossNames() {
        TreeSet<String> names = new TreeSet<>();
        for (JsonNode r : rounds) {
            r.path("aux_losses").fieldNames().forEachRemaining(names::add);
        }
        return new ArrayList<>(names);
    }

    /** A step field of one worker against the global step. */
    public Series perStep(int worker, String field) {
        List<JsonNode> mine = steps.stream().filter(s -> s.path("worker").asInt() == worker).toList();
        return series(mine, "global_step", n -> n.path(field));
    }

    /** The MoE layers the run logs routing for. */
    public List<Integer> moeLayers() {
        TreeSet<Integer> layers = new TreeSet<>();
        for (JsonNode r : rounds) {
            for (JsonNode e : r.path("experts")) {
                layers.add(e.path("layer").asInt());
            }
        }
        return new ArrayList<>(layers);
    }

    /**
     * Share of the layer's routed tokens that each expert received, per round: {@code load_ER[expert][round]}
     * (each column sums to 1; 1/E everywhere is perfect balance). Rounds without that layer are zero.
     */
    public double[][] expertLoad(int layer) {
        int experts = 0;
        for (JsonNode r : rounds) {
            for (JsonNode e : r.path("experts")) {
                if (e.path("layer").asInt() == layer) {
                    experts = Math.max(experts, e.path("tokens_per_expert").size());
                }
            }
        }
        double[][] load_ER = new double[experts][rounds.size()];
        for (int round = 0; round < rounds.size(); round++) {
            for (JsonNode e : rounds.get(round).path("experts")) {
                if (e.path("layer").asInt() != layer) {
                    continue;
                }
                JsonNode counts = e.path("tokens_per_expert");
                double total = 0;
                for (JsonNode c : counts) {
                    total += c.asDouble();
                }
                for (int x = 0; x < counts.size(); x++) {
                    load_ER[x][round] = total == 0 ? 0 : counts.get(x).asDouble() / total;
                }
            }
        }
        return load_ER;
    }

    /** Coefficient of variation of the per-expert load of one layer, per round (0 is perfect balance). */
    public Series loadCv(int layer) {
        return series(rounds, "round", n -> {
            for (JsonNode e : n.path("experts")) {
                if (e.path("layer").asInt() == layer) {
                    return e.path("load_cv");
                }
            }
            return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
        });
    }

    /** The last round's line, for a summary table. */
    public Optional<JsonNode> lastRound() {
        return rounds.isEmpty() ? Optional.empty() : Optional.of(rounds.getLast());
    }

    /** {@code evaluation/evaluation.json}, when {@code evaluate} has run on this run. */
    public Optional<JsonNode> evaluation() throws IOException {
        Path file = new Path(run, "evaluation/evaluation.json");
        FileSystem fs = file.getFileSystem(conf);
        if (!fs.exists(file)) {
            return Optional.empty();
        }
        try (var in = fs.open(file)) {
            return Optional.of(JSON.readTree(in));
        }
    }

    private static Series series(List<JsonNode> lines, String xField, java.util.function.Function<JsonNode, JsonNode> y) {
        double[] xs = new double[lines.size()];
        double[] ys = new double[lines.size()];
        for (int i = 0; i < lines.size(); i++) {
            JsonNode line = lines.get(i);
            xs[i] = line.path(xField).asDouble(i);
            JsonNode v = y.apply(line);
            ys[i] = v.isNumber() ? v.asDouble() : Double.NaN;
        }
        return new Series(xs, ys).finite();
    }

    private List<JsonNode> lines(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        FileSystem fs = file.getFileSystem(conf);
        try (BufferedReader in = new BufferedReader(new InputStreamReader(fs.open(file), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (!line.isBlank()) {
                    out.add(JSON.readTree(line));
                }
            }
        }
        return out;
    }
}
