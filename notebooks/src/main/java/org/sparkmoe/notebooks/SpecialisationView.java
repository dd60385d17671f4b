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
 * Notebook 3's view of the paper's expert-specialisation analyses (DeepSeekMoE paper §4.5) as the {@code evaluate} job
 * wrote them into each run's {@code evaluation/evaluation.json} ({@code specialisation}, docs/training.md): validation
 * loss against the share of each token's top routed experts disabled (the paper's Fig. 4, where DeepSeekMoE is hurt
 * more than GShard), against the routed experts activated (Fig. 5), and with and without the shared experts. One
 * curve or bar group per run, so a DeepSeekMoE run and its GShard-style twin compare directly. Runs that were
 * evaluated before the analyses existed are listed by {@link #missing()} and left out of the charts.
 */
public final class SpecialisationView {

    private final Map<String, JsonNode> byRun = new LinkedHashMap<>();
    private final List<String> missing = new ArrayList<>();

    public SpecialisationView(List<RunMetrics> runs) throws IOException {
        for (RunMetrics m : runs) {
            JsonNode spec = m.evaluation().map(e -> e.path("specialisation")).orElse(null);
            if (spec == null || !spec.has("disabled_top_experts")) {
                missing.add(m.name());
            } else {
                byRun.put(m.name(), spec);
            }
        }
    }

    public static SpecialisationView of(String... runDirectories) throws IOException {
        List<RunMetrics> runs = new ArrayList<>();
        for (String dir : runDirectories) {
            runs.add(RunMetrics.open(dir));
        }
        return new SpecialisationView(runs);
    }

    /** Runs without specialisation results (not evaluated, or evaluated by an older {@code evaluate}). */
    public List<String> missing() {
        return List.copyOf(missing);
    }

    /** Loss against the share of routed experts disabled per token ({@code disabled_share}, after rounding). */
    public Series disabledTopExperts(String run) {
        return series(run, "disabled_top_experts", "disabled_share", row -> true);
    }

    /** Loss against the routed experts activated per token. */
    public Series activatedExperts(String run) {
        return series(run, "activated_routed_experts", "activated_experts", row -> true);
    }

    /** Loss against the routed experts activated, with ({@code shared}) or without the shared experts. */
    public Series sharedExpert(String run, boolean shared) {
        return series(run, "shared_expert", "activated_experts",
                row -> row.path("shared_experts").asBoolean() == shared);
    }

    public BufferedImage disabledTopExpertsChart() {
        return Charts.lines("Validation loss with each token's top routed experts disabled",
                "share of routed experts disabled", "loss", curves(this::disabledTopExperts), false);
    }

    public BufferedImage activatedExpertsChart() {
        return Charts.lines("Validation loss against routed experts activated", "activated routed experts", "loss",
                curves(this::activatedExperts), false);
    }

    /**
     * Bars per run: how much the loss rises without the shared experts, at K and at K+1 routed experts, against the
     * run's trained routing (rises, not losses, so runs with different losses compare on one axis).
     */
    public BufferedImage sharedExpertChart() {
        Map<String, Map<String, ? extends Number>> bars = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> run : byRun.entrySet()) {
            Map<String, Double> values = new LinkedHashMap<>();
            for (JsonNode row : run.getValue().path("shared_expert")) {
                if (!row.path("shared_experts").asBoolean()) {
                    values.put(label(row), row.path("loss_increase").asDouble());
                }
            }
            if (!values.isEmpty()) {
                bars.put(run.getKey(), values);
            }
        }
        return Charts.groupedBars("Validation loss increase without the shared experts", "setting",
                "loss − trained-routing loss", bars);
    }

    /** {@link #summary()} as text: one line per setting, one column per run, each loss and its change. */
    public String table() {
        Map<String, Map<String, Object>> summary = summary();
        List<String> settings = new ArrayList<>();
        summary.values().forEach(row -> row.keySet().stream()
                .filter(k -> !k.equals("notes") && !settings.contains(k)).forEach(settings::add));
        StringBuilder sb = new StringBuilder(String.format(java.util.Locale.ROOT, "%-24s", "setting"));
        summary.keySet().forEach(run -> sb.append(String.format(java.util.Locale.ROOT, " %24s", run)));
        sb.append('\n');
        for (String setting : settings) {
            sb.append(String.format(java.util.Locale.ROOT, "%-24s", setting));
            for (Map<String, Object> row : summary.values()) {
                Object loss = row.get(setting);
                double base = (Double) row.get("trained routing");
                sb.append(loss == null ? String.format(java.util.Locale.ROOT, " %24s", "-")
                        : String.format(java.util.Locale.ROOT, " %14.4f (%+7.4f)", (Double) loss,
                                (Double) loss - base));
            }
            sb.append('\n');
        }
        summary.forEach((run, row) -> ((List<?>) row.get("notes"))
                .forEach(n -> sb.append(run).append(": ").append(n).append('\n')));
        return sb.toString();
    }

    /** One row per run: each setting's loss, by a readable label, plus the notes the job wrote. */
    public Map<String, Map<String, Object>> summary() {
        Map<String, Map<String, Object>> rows = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> run : byRun.entrySet()) {
            Map<String, Object> row = new LinkedHashMap<>();
            JsonNode spec = run.getValue();
            row.put("trained routing", spec.path("baseline_loss").asDouble());
            for (JsonNode r : spec.path("disabled_top_experts")) {
                row.put(r.path("disabled_experts").asInt() + "/" + spec.path("routed_experts").asInt()
                        + " top disabled", r.path("loss").asDouble());
            }
            for (JsonNode r : spec.path("activated_routed_experts")) {
                row.put(r.path("activated_experts").asInt() + " routed", r.path("loss").asDouble());
            }
            for (JsonNode r : spec.path("shared_expert")) {
                row.put(label(r), r.path("loss").asDouble());
            }
            List<String> notes = new ArrayList<>();
            spec.path("notes").forEach(n -> notes.add(n.asText()));
            row.put("notes", notes);
            rows.put(run.getKey(), row);
        }
        return rows;
    }

    private static String label(JsonNode row) {
        return (row.path("shared_experts").asBoolean() ? "shared on, " : "shared off, ")
                + row.path("activated_experts").asInt() + " routed";
    }

    private Map<String, Series> curves(java.util.function.Function<String, Series> f) {
        Map<String, Series> curves = new LinkedHashMap<>();
        for (String run : byRun.keySet()) {
            curves.put(run, f.apply(run));
        }
        return curves;
    }

    private Series series(String run, String analysis, String xField,
                          java.util.function.Predicate<JsonNode> which) {
        JsonNode spec = byRun.get(run);
        if (spec == null) {
            throw new IllegalArgumentException("run " + run + " has no specialisation results; runs with them: "
                    + byRun.keySet());
        }
        List<double[]> points = new ArrayList<>();
        for (JsonNode row : spec.path(analysis)) {
            if (which.test(row)) {
                points.add(new double[] {row.path(xField).asDouble(), row.path("loss").asDouble()});
            }
        }
        points.sort((a, b) -> Double.compare(a[0], b[0]));
        return new Series(points.stream().mapToDouble(p -> p[0]).toArray(),
                points.stream().mapToDouble(p -> p[1]).toArray()).finite();
    }
}
