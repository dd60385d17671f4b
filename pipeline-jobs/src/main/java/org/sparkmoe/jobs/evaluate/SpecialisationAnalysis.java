package org.sparkmoe.jobs.evaluate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.charts.Charts;
import org.sparkmoe.jobs.charts.Series;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.moe.RoutingAblation;

/**
 * The paper's expert-specialisation analyses (DeepSeekMoE paper §4.5) as a plan of {@link RoutingAblation}s that the
 * {@link ValidationPass} scores on the same sequences as the validation loss, and their report: loss against the
 * share of each token's top routed experts disabled (Fig. 4), against the routed experts activated (Fig. 5), and with
 * and without the shared experts (§4.5, where one more routed expert keeps the compute equal). A setting the model
 * cannot run (hash routing, no shared experts, more experts than it has) is left out with a note saying why; the
 * trained routing is never scored twice (its loss is the validation loss, tested equal).
 */
public final class SpecialisationAnalysis {

    static final String DISABLED = "disabled_top_experts";
    static final String ACTIVATED = "activated_routed_experts";
    static final String SHARED = "shared_expert";

    /**
     * One point of one analysis.
     *
     * @param analysis  {@link #DISABLED}, {@link #ACTIVATED} or {@link #SHARED}
     * @param x         the plotted setting: share of routed experts disabled, or routed experts activated
     * @param ablation  the routing it scores
     * @param asked     what the settings asked for (the share before rounding to whole experts), for the report
     */
    public record Point(String analysis, double x, RoutingAblation ablation, String asked) {}

    /**
     * Another run's results to draw beside this run's (the paper compares DeepSeekMoE with GShard×1.5 in Fig. 4).
     *
     * @param name            the run's id, for legends
     * @param uri             its run directory
     * @param specialisation  the {@code specialisation} section of its {@code evaluation.json}
     */
    public record ComparedRun(String name, String uri, JsonNode specialisation) {}

    private final ModelConfig model;
    private final RoutingAblation baseline;
    private final List<Point> points = new ArrayList<>();
    private final List<RoutingAblation> ablations = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    private SpecialisationAnalysis(ModelConfig model) {
        this.model = model;
        this.baseline = model.numExpertsPerTok() > 0 ? RoutingAblation.baseline(model) : null;
    }

    /**
     * The points to score for {@code model}: each share of {@code disabledTopShares} (shares that round to the same
     * number of experts run once), each count of {@code activatedExperts}, and when {@code sharedExpert} the model
     * without its shared experts at K and at K + 1 routed experts. Empty lists leave an analysis out.
     */
    public static SpecialisationAnalysis plan(ModelConfig model, List<Double> disabledTopShares,
                                              List<Integer> activatedExperts, boolean sharedExpert) {
        SpecialisationAnalysis plan = new SpecialisationAnalysis(model);
        if (model.moeLayerCount() == 0) {
            plan.notes.add("model " + model.name() + " has no MoE layers: no specialisation analysis applies");
            return plan;
        }
        int experts = model.nRoutedExperts();
        Map<Integer, Double> shareByCount = new LinkedHashMap<>();
        for (double share : disabledTopShares) {
            RoutingAblation a = plan.baseline.withDisabledTopShare(share);
            int disabled = a.disabledExperts(experts);
            Double earlier = shareByCount.putIfAbsent(disabled, share);
            if (earlier != null) {
                plan.notes.add(String.format(Locale.ROOT, "disabled share %s rounds to %d of %d routed experts like"
                        + " %s: scored once", format(share), disabled, experts, format(earlier)));
                continue;
            }
            plan.add(new Point(DISABLED, (double) disabled / experts, a, format(share)));
        }
        for (int k : activatedExperts) {
            plan.add(new Point(ACTIVATED, k, plan.baseline.withActivatedExperts(k), String.valueOf(k)));
        }
        if (sharedExpert && model.nSharedExperts() == 0) {
            plan.notes.add("model " + model.name() + " has no shared experts to disable: the shared-expert analysis"
                    + " is left out");
        } else if (sharedExpert) {
            int k = model.numExpertsPerTok();
            plan.add(new Point(SHARED, k, plan.baseline, "shared on, K=" + k));
            plan.add(new Point(SHARED, k, plan.baseline.withSharedExperts(false), "shared off, K=" + k));
            plan.add(new Point(SHARED, k + 1, plan.baseline.withSharedExperts(false).withActivatedExperts(k + 1),
                    "shared off, K+1=" + (k + 1)));
        }
        return plan;
    }

    private void add(Point p) {
        try {
            p.ablation().checkFits(model);
        } catch (IllegalArgumentException e) {
            notes.add(p.analysis() + " " + p.asked() + " left out: " + e.getMessage());
            return;
        }
        points.add(p);
        if (!p.ablation().equals(baseline) && !ablations.contains(p.ablation())) {
            ablations.add(p.ablation());
        }
    }

    /** The distinct ablations to score, the trained routing excluded; their order indexes the pass's result. */
    public List<RoutingAblation> ablations() {
        return List.copyOf(ablations);
    }

    public List<Point> points() {
        return List.copyOf(points);
    }

    public List<String> notes() {
        return List.copyOf(notes);
    }

    private double loss(ValidationResult v, Point p) {
        return p.ablation().equals(baseline) ? v.loss() : v.ablationLoss(ablations.indexOf(p.ablation()));
    }

    private double bitsPerByte(ValidationResult v, Point p) {
        return p.ablation().equals(baseline) ? v.bitsPerByte() : v.ablationBitsPerByte(ablations.indexOf(p.ablation()));
    }

    /**
     * The {@code specialisation} section of {@code evaluation.json}, and its plots written into {@code dir}:
     * {@code specialisation-disabled-top-experts.png}, {@code specialisation-activated-experts.png},
     * {@code specialisation-shared-expert.png} (each only when its analysis has points). {@code runName} labels this
     * run's curves; {@code compared} (null for none) adds that run's curves to the first two plots and its results to
     * the section as {@code compared_run}.
     */
    public ObjectNode report(ValidationResult v, FileSystem fs, Path dir, String runName, ComparedRun compared)
            throws IOException {
        ObjectNode out = new ObjectMapper().createObjectNode();
        out.put("model", model.name()).put("routed_experts", model.nRoutedExperts())
                .put("experts_per_token", model.numExpertsPerTok())
                .put("shared_experts", model.nSharedExperts())
                .put("sequences", v.sequences()).put("targets", v.targets())
                .put("baseline_loss", v.loss())
                .put("trained_routing_task_seconds", v.scoreSeconds())
                .put("ablation_task_seconds", v.ablationSeconds());
        for (String analysis : List.of(DISABLED, ACTIVATED, SHARED)) {
            ArrayNode rows = out.putArray(analysis);
            for (Point p : points) {
                if (!p.analysis().equals(analysis)) {
                    continue;
                }
                RoutingAblation a = p.ablation();
                ObjectNode row = rows.addObject();
                switch (analysis) {
                    case DISABLED -> row.put("share_asked", a.disabledTopShare())
                            .put("disabled_experts", a.disabledExperts(model.nRoutedExperts()))
                            .put("disabled_share", p.x());
                    case ACTIVATED -> row.put("activated_experts", a.activatedExperts());
                    default -> row.put("shared_experts", a.sharedExperts())
                            .put("activated_experts", a.activatedExperts());
                }
                double loss = loss(v, p);
                row.put("loss", loss).put("loss_increase", loss - v.loss()).put("perplexity", Math.exp(loss));
                double bpb = bitsPerByte(v, p);
                if (Double.isNaN(bpb)) {
                    row.putNull("bits_per_byte");
                } else {
                    row.put("bits_per_byte", bpb);
                }
            }
        }
        ArrayNode noteArray = out.putArray("notes");
        notes.forEach(noteArray::add);
        if (compared != null) {
            out.putObject("compared_run").put("run", compared.uri()).set("specialisation", compared.specialisation());
        }
        ArrayNode plots = out.putArray("plots");
        plot(v, fs, dir, DISABLED, "disabled_share", "specialisation-disabled-top-experts.png",
                "Validation loss with each token's top routed experts disabled", "share of routed experts disabled",
                runName, compared, plots);
        plot(v, fs, dir, ACTIVATED, "activated_experts", "specialisation-activated-experts.png",
                "Validation loss against routed experts activated per token", "activated routed experts", runName,
                compared, plots);
        if (points.stream().anyMatch(p -> p.analysis().equals(SHARED))) {
            Map<String, Series> curves = new LinkedHashMap<>();
            curves.put("with shared experts", series(v, p -> p.analysis().equals(SHARED) && p.ablation().sharedExperts()
                    || p.analysis().equals(ACTIVATED)));
            curves.put("without shared experts", series(v, p -> p.analysis().equals(SHARED)
                    && !p.ablation().sharedExperts()));
            TrainingCurves.writePng(fs, new Path(dir, "specialisation-shared-expert.png"), Charts.lines(
                    "Validation loss with and without the shared experts", "activated routed experts", "loss",
                    curves, false));
            plots.add("specialisation-shared-expert.png");
        }
        return out;
    }

    private void plot(ValidationResult v, FileSystem fs, Path dir, String analysis, String xField, String file,
                      String title, String xLabel, String runName, ComparedRun compared, ArrayNode plots)
            throws IOException {
        if (points.stream().noneMatch(p -> p.analysis().equals(analysis))) {
            return;
        }
        Map<String, Series> curves = new LinkedHashMap<>();
        curves.put(runName, series(v, p -> p.analysis().equals(analysis)));
        if (compared != null && !compared.specialisation().path(analysis).isEmpty()) {
            Map<Double, Double> byX = new java.util.TreeMap<>();
            for (JsonNode row : compared.specialisation().path(analysis)) {
                byX.putIfAbsent(row.path(xField).asDouble(), row.path("loss").asDouble());
            }
            curves.put(compared.name(), series(byX));
        }
        TrainingCurves.writePng(fs, new Path(dir, file), Charts.lines(title, xLabel, "loss", curves, false));
        plots.add(file);
    }

    /** The matching points sorted by x, one loss per distinct x. */
    private Series series(ValidationResult v, java.util.function.Predicate<Point> which) {
        Map<Double, Double> byX = new java.util.TreeMap<>();
        for (Point p : points) {
            if (which.test(p)) {
                byX.putIfAbsent(p.x(), loss(v, p));
            }
        }
        return series(byX);
    }

    private static Series series(Map<Double, Double> byX) {
        return new Series(byX.keySet().stream().mapToDouble(Double::doubleValue).toArray(),
                byX.values().stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** A short table for the console: one line per point, then the notes. */
    public String table(ValidationResult v) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "specialisation analyses (%d sequences, trained-routing loss %.4f):%n  %-26s %-22s %9s %9s%n",
                v.sequences(), v.loss(), "analysis", "setting", "loss", "change"));
        for (Point p : points) {
            RoutingAblation a = p.ablation();
            String setting = switch (p.analysis()) {
                case DISABLED -> a.disabledExperts(model.nRoutedExperts()) + "/" + model.nRoutedExperts()
                        + " top disabled";
                case ACTIVATED -> a.activatedExperts() + " routed";
                default -> (a.sharedExperts() ? "shared on, " : "shared off, ") + a.activatedExperts() + " routed";
            };
            double loss = loss(v, p);
            sb.append(String.format(Locale.ROOT, "  %-26s %-22s %9.4f %+9.4f%n", p.analysis(), setting, loss,
                    loss - v.loss()));
        }
        notes.forEach(n -> sb.append("  note: ").append(n).append(System.lineSeparator()));
        return sb.toString();
    }

    private static String format(double share) {
        return Double.toString(share);
    }
}
