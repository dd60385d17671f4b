package org.sparkmoe.jobs.evaluate;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.charts.Charts;
import org.sparkmoe.jobs.train.VectorFiles;

/**
 * {@code evaluation/index.html}: one page with every figure and table of an evaluation, drawn from
 * {@code evaluation.json} alone — validation loss, perplexity and bits per byte, the training summary, the expert
 * load per MoE layer, the specialisation analyses (with the compared run's figures beside this run's) and every PNG.
 * Self-contained: the PNGs are linked relatively (the directory can be copied or served as it is) and the page loads
 * no script, font or style sheet from elsewhere.
 */
final class EvaluationPage {

    static final String FILE = "index.html";

    private final StringBuilder html = new StringBuilder();
    private final java.util.Set<String> shown = new java.util.HashSet<>();

    private EvaluationPage() {}

    /** Writes {@code dir/index.html} for run {@code runName} from its {@code evaluation.json}, parsed. */
    static void write(FileSystem fs, Path dir, String runName, JsonNode report) throws IOException {
        EvaluationPage page = new EvaluationPage();
        page.render(runName, report);
        VectorFiles.writeText(fs, new Path(dir, FILE), page.html.toString());
    }

    private void render(String runName, JsonNode report) {
        JsonNode parameters = report.path("parameters");
        String title = "Evaluation of " + runName + (parameters.path("round").isNumber()
                ? ", round " + parameters.path("round").asInt() : "");
        html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
                .append(escape(title)).append("</title>\n<style>\n")
                .append("body { font-family: sans-serif; margin: 2em auto; max-width: ").append(Charts.WIDTH + 40)
                .append("px; color: #222; }\n")
                .append("table { border-collapse: collapse; margin: 0.5em 0 1.5em; }\n")
                .append("th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }\n")
                .append("td.n { text-align: right; font-variant-numeric: tabular-nums; }\n")
                .append("th { background: #f0f3f8; text-align: left; }\n")
                .append("figure { margin: 1em 0; } img { max-width: 100%; height: auto; }\n")
                .append("</style>\n</head>\n<body>\n");
        html.append("<h1>").append(escape(title)).append("</h1>\n");
        parameters(parameters);
        validation(report.path("validation"));
        training(report.path("training"));
        expertLoad(report.path("validation_expert_load"), report.path("training").path("plots"));
        specialisation(report.path("specialisation"));
        List<String> others = new ArrayList<>();
        JsonNode training = report.path("training").path("plots");
        for (JsonNode plots : List.of(training, report.path("specialisation").path("plots"))) {
            plots.forEach(p -> {
                if (!shown.contains(p.asText())) {
                    others.add(p.asText());
                }
            });
        }
        if (!others.isEmpty()) {
            html.append("<h2>Other figures</h2>\n");
            others.forEach(file -> figure(file, file));
        }
        html.append("</body>\n</html>\n");
    }

    /** Which parameters were scored: the final ones, or a checkpoint's and why that one. */
    private void parameters(JsonNode p) {
        html.append("<p>Scored: ");
        if (!p.path("round").isNumber()) {
            html.append("the run's final parameters (final/parameters.f32).</p>\n");
            return;
        }
        html.append("checkpoint ").append(escape(p.path("source").asText())).append(", the parameters after round ")
                .append(p.path("round").asInt()).append(" (").append(integer(p.path("tokens")))
                .append(" tokens trained)");
        if (p.path("selected_by").asText().equals(EvaluatedParameters.BEST)) {
            html.append(", chosen as the round of the lowest validation loss during training, ")
                    .append(decimals(p.path("training_validation_loss"), 4));
        } else if (p.path("training_validation_loss").isNumber()) {
            html.append("; its validation loss during training was ")
                    .append(decimals(p.path("training_validation_loss"), 4));
        }
        html.append(".</p>\n");
    }

    private void validation(JsonNode v) {
        html.append("<h2>Validation</h2>\n<p>").append(escape(v.path("split").asText())).append(" split of ")
                .append(escape(v.path("manifest").asText())).append(", sequences of ")
                .append(v.path("seq_len").asInt()).append(" tokens.</p>\n");
        Map<String, String> rows = new LinkedHashMap<>();
        rows.put("sequences", integer(v.path("sequences")));
        rows.put("scored targets", integer(v.path("targets")));
        rows.put("loss (nats per token)", decimals(v.path("loss"), 4));
        rows.put("perplexity", decimals(v.path("perplexity"), 2));
        rows.put("bits per byte", v.path("bits_per_byte").isNumber() ? decimals(v.path("bits_per_byte"), 4)
                : escape(v.path("bits_per_byte_note").asText("n/a")));
        keyValues(rows);
    }

    private void training(JsonNode t) {
        html.append("<h2>Training</h2>\n");
        Map<String, String> rows = new LinkedHashMap<>();
        rows.put("rounds", integer(t.path("rounds")));
        rows.put("tokens trained", integer(t.path("total_tokens")));
        rows.put("first round loss", decimals(t.path("first_round_loss"), 4));
        rows.put("last round loss", decimals(t.path("last_round_loss"), 4));
        keyValues(rows);
        for (JsonNode plot : t.path("plots")) {
            String file = plot.asText();
            if (file.equals("loss-curve.png")) {
                figure(file, "Training loss per round against tokens trained");
            }
        }
    }

    /** The validation load per layer as a table, then the validation and per-layer training heat maps. */
    private void expertLoad(JsonNode layers, JsonNode plots) {
        html.append("<h2>Expert load</h2>\n");
        if (layers.isEmpty()) {
            html.append("<p>The model has no MoE layer.</p>\n");
            return;
        }
        html.append("<p>Tokens each routed expert received on the validation sequences; the coefficient of variation"
                + " (CV) is 0 for a perfectly even load.</p>\n<table>\n<tr><th>MoE layer</th><th>load CV</th>"
                + "<th>fewest tokens</th><th>most tokens</th><th>mean tokens</th><th>most / mean</th></tr>\n");
        for (JsonNode layer : layers) {
            long min = Long.MAX_VALUE;
            long max = 0;
            long sum = 0;
            JsonNode counts = layer.path("tokens_per_expert");
            for (JsonNode c : counts) {
                min = Math.min(min, c.asLong());
                max = Math.max(max, c.asLong());
                sum += c.asLong();
            }
            double mean = counts.isEmpty() ? 0 : (double) sum / counts.size();
            html.append("<tr><td class=\"n\">").append(layer.path("layer").asInt()).append("</td>")
                    .append(cell(decimals(layer.path("load_cv"), 4)))
                    .append(cell(counts.isEmpty() ? "-" : String.format(Locale.ROOT, "%,d", min)))
                    .append(cell(String.format(Locale.ROOT, "%,d", max)))
                    .append(cell(String.format(Locale.ROOT, "%,.1f", mean)))
                    .append(cell(mean == 0 ? "-" : String.format(Locale.ROOT, "%.2f", max / mean)))
                    .append("</tr>\n");
        }
        html.append("</table>\n");
        for (JsonNode plot : plots) {
            String file = plot.asText();
            if (file.equals("validation-expert-load.png")) {
                figure(file, "Validation tokens per routed expert, per MoE layer");
            } else if (file.startsWith("expert-load-layer-")) {
                figure(file, "Tokens per routed expert in each training round, layer "
                        + file.substring("expert-load-layer-".length(), file.length() - ".png".length()));
            }
        }
    }

    private void specialisation(JsonNode analysis) {
        html.append("<h2>Expert specialisation</h2>\n");
        if (analysis.isMissingNode() || !analysis.has("baseline_loss")) {
            html.append("<p>No specialisation analysis was run.</p>\n");
            return;
        }
        JsonNode compared = analysis.path("compared_run");
        String comparedName = compared.isMissingNode() ? null : name(compared.path("run").asText());
        html.append("<p>Validation loss of ").append(integer(analysis.path("sequences"))).append(" sequences with the"
                + " routing changed (the DeepSeekMoE paper, §4.5); the trained routing scores ")
                .append(decimals(analysis.path("baseline_loss"), 4)).append(". Model ")
                .append(escape(analysis.path("model").asText())).append(": ").append(analysis.path("routed_experts").asInt())
                .append(" routed experts, ").append(analysis.path("experts_per_token").asInt()).append(" per token, ")
                .append(analysis.path("shared_experts").asInt()).append(" shared.");
        if (comparedName != null) {
            html.append(" Compared with run ").append(escape(comparedName)).append(" (")
                    .append(escape(compared.path("run").asText())).append("), whose trained routing scores ")
                    .append(decimals(compared.path("specialisation").path("baseline_loss"), 4)).append('.');
        }
        html.append("</p>\n");
        analysis(analysis, SpecialisationAnalysis.DISABLED, "Top routed experts disabled (paper Fig. 4)",
                "routed experts disabled", "disabled_share", comparedName,
                row -> row.path("disabled_experts").asInt() + " of " + analysis.path("routed_experts").asInt()
                        + " (share asked " + decimals(row.path("share_asked"), 4) + ")");
        analysis(analysis, SpecialisationAnalysis.ACTIVATED, "Routed experts activated (paper Fig. 5)",
                "routed experts activated", "activated_experts", comparedName,
                row -> Integer.toString(row.path("activated_experts").asInt()));
        analysis(analysis, SpecialisationAnalysis.SHARED, "Shared experts (paper §4.5)", "setting", null, null,
                row -> (row.path("shared_experts").asBoolean() ? "shared on, " : "shared off, ")
                        + row.path("activated_experts").asInt() + " routed");
        if (!analysis.path("notes").isEmpty()) {
            html.append("<h3>Notes</h3>\n<ul>\n");
            analysis.path("notes").forEach(n -> html.append("<li>").append(escape(n.asText())).append("</li>\n"));
            html.append("</ul>\n");
        }
        for (JsonNode plot : analysis.path("plots")) {
            figure(plot.asText(), switch (plot.asText()) {
                case "specialisation-disabled-top-experts.png" -> "Loss with each token's top routed experts disabled";
                case "specialisation-activated-experts.png" -> "Loss against routed experts activated per token";
                default -> "Loss with and without the shared experts";
            });
        }
    }

    /**
     * One analysis as a table: a row per setting with this run's figures, and the compared run's loss at the same
     * setting ({@code xField} matches them) when there is one.
     */
    private void analysis(JsonNode s, String key, String heading, String settingTitle, String xField,
                          String comparedName, java.util.function.Function<JsonNode, String> setting) {
        JsonNode rows = s.path(key);
        if (rows.isEmpty()) {
            return;
        }
        Map<Double, JsonNode> comparedByX = new LinkedHashMap<>();
        if (comparedName != null && xField != null) {
            for (JsonNode row : s.path("compared_run").path("specialisation").path(key)) {
                comparedByX.putIfAbsent(row.path(xField).asDouble(), row);
            }
        }
        boolean compare = !comparedByX.isEmpty();
        html.append("<h3>").append(escape(heading)).append("</h3>\n<table>\n<tr><th>")
                .append(escape(settingTitle)).append("</th><th>loss</th><th>change</th><th>perplexity</th>"
                        + "<th>bits per byte</th>");
        if (compare) {
            html.append("<th>").append(escape(comparedName)).append(" loss</th><th>")
                    .append(escape(comparedName)).append(" change</th>");
        }
        html.append("</tr>\n");
        for (JsonNode row : rows) {
            html.append("<tr><td>").append(escape(setting.apply(row))).append("</td>")
                    .append(cell(decimals(row.path("loss"), 4)))
                    .append(cell(signed(row.path("loss_increase"))))
                    .append(cell(decimals(row.path("perplexity"), 2)))
                    .append(cell(row.path("bits_per_byte").isNumber() ? decimals(row.path("bits_per_byte"), 4) : "-"));
            if (compare) {
                JsonNode other = comparedByX.get(row.path(xField).asDouble());
                html.append(cell(other == null ? "-" : decimals(other.path("loss"), 4)))
                        .append(cell(other == null ? "-" : signed(other.path("loss_increase"))));
            }
            html.append("</tr>\n");
        }
        html.append("</table>\n");
    }

    private void keyValues(Map<String, String> rows) {
        html.append("<table>\n");
        rows.forEach((k, v) -> html.append("<tr><th>").append(escape(k)).append("</th>").append(cell(v))
                .append("</tr>\n"));
        html.append("</table>\n");
    }

    private void figure(String file, String caption) {
        shown.add(file);
        html.append("<figure><img src=\"").append(escape(file)).append("\" width=\"").append(Charts.WIDTH)
                .append("\" height=\"").append(Charts.HEIGHT).append("\" alt=\"").append(escape(caption))
                .append("\"><figcaption>").append(escape(caption)).append("</figcaption></figure>\n");
    }

    private static String cell(String value) {
        return "<td class=\"n\">" + value + "</td>";
    }

    private static String integer(JsonNode n) {
        return n.isNumber() ? String.format(Locale.ROOT, "%,d", n.asLong()) : "-";
    }

    /** {@code n} with {@code places} decimals; "-" when the report has no number there (NaN is written as text). */
    static String decimals(JsonNode n, int places) {
        return n.isNumber() ? String.format(Locale.ROOT, "%." + places + "f", n.asDouble()) : "-";
    }

    private static String signed(JsonNode n) {
        return n.isNumber() ? String.format(Locale.ROOT, "%+.4f", n.asDouble()) : "-";
    }

    private static String name(String uri) {
        String trimmed = uri.replaceAll("/+$", "");
        return trimmed.substring(trimmed.lastIndexOf('/') + 1);
    }

    private static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            switch (c) {
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '&' -> out.append("&amp;");
                case '"' -> out.append("&quot;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }
}
