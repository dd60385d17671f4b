package org.sparkmoe.jobs.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.RawFileSystems;

/**
 * The run's metrics as JSON lines: {@code metrics/rounds.jsonl} (one line per round) and
 * {@code metrics/steps.jsonl} (one line per local step of each worker). Each round's lines are flushed
 * ({@code hflush}) before the next round starts, so a reader sees them while the run goes on. On resume the lines of
 * rounds after the checkpoint are dropped, so the files read as one uninterrupted run.
 */
public final class MetricsLog implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final FSDataOutputStream rounds;
    private final FSDataOutputStream steps;

    private MetricsLog(FSDataOutputStream rounds, FSDataOutputStream steps) {
        this.rounds = rounds;
        this.steps = steps;
    }

    /** Opens the logs, keeping the lines of rounds before {@code firstRound} (0 for a new run). */
    public static MetricsLog open(RunDirectory run, int firstRound) throws IOException {
        FileSystem fs = run.fileSystem();
        return new MetricsLog(reopen(fs, run.roundMetrics(), firstRound), reopen(fs, run.stepMetrics(), firstRound));
    }

    private static FSDataOutputStream reopen(FileSystem fs, Path file, int firstRound) throws IOException {
        List<String> kept = new ArrayList<>();
        if (firstRound > 0 && fs.exists(file)) {
            for (String line : readLines(fs, file)) {
                if (JSON.readTree(line).path("round").asInt() < firstRound) {
                    kept.add(line);
                }
            }
        }
        // Appended while the run goes on and cut short when an application is stopped: no checksum side file.
        FSDataOutputStream out = RawFileSystems.create(fs, file);
        for (String line : kept) {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        }
        out.hflush();
        return out;
    }

    public static List<String> readLines(FileSystem fs, Path file) throws IOException {
        List<String> lines = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(RawFileSystems.of(fs).open(file),
                StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (!line.isBlank()) {
                    lines.add(line);
                }
            }
        }
        return lines;
    }

    /** Writes the round's line and each worker's step lines, then flushes both files. */
    public void record(RoundSummary summary, List<WorkerReport> reports, int localSteps) throws IOException {
        for (WorkerReport report : reports) {
            for (int i = 0; i < report.steps().size(); i++) {
                StepMetrics s = report.steps().get(i);
                ObjectNode line = JSON.createObjectNode()
                        .put("round", summary.round())
                        .put("worker", report.worker())
                        .put("step", i)
                        .put("global_step", (long) summary.round() * localSteps + i)
                        .put("loss", s.loss())
                        .put("applied", s.applied())
                        .put("learning_rate", s.learningRate())
                        .put("grad_norm", s.gradNorm())
                        .put("tokens", s.tokens())
                        .put("seconds", report.stepSeconds()[i])
                        .put("tokens_per_second", s.tokens() / Math.max(report.stepSeconds()[i], 1e-9))
                        .put("device", report.device())
                        .put("backend", report.backend());
                line.set("aux_losses", JSON.valueToTree(new TreeMap<>(s.auxLosses())));
                line.set("experts", experts(s.experts()));
                write(steps, line);
            }
        }
        ObjectNode line = JSON.createObjectNode()
                .put("round", summary.round())
                .put("loss", summary.loss())
                .put("learning_rate", summary.learningRate())
                .put("grad_norm", summary.gradNorm())
                .put("tokens", summary.tokens())
                .put("total_tokens", summary.totalTokens())
                .put("tokens_per_second", summary.tokensPerSecond())
                .put("round_seconds", summary.roundSeconds())
                .put("compute_seconds", summary.computeSeconds())
                .put("overhead_seconds", summary.overheadSeconds())
                .put("overhead_share", summary.overheadSeconds() / Math.max(summary.roundSeconds(), 1e-9))
                .put("contributing_workers", summary.contributors())
                .put("excluded_workers", summary.excludedWorkers())
                .put("skipped_steps", summary.skippedSteps())
                .put("retried_tasks", summary.retriedTasks())
                .put("replayed_rounds", summary.replayedRounds());
        if (summary.validation() != null) {
            line.put("validation_loss", summary.validation().loss())
                    .put("validation_tokens", summary.validation().tokens());
        }
        line.set("aux_losses", JSON.valueToTree(new TreeMap<>(summary.auxLosses())));
        line.set("phases", JSON.valueToTree(summary.phases()));
        line.set("experts", experts(summary.experts()));
        write(rounds, line);
        steps.hflush();
        rounds.hflush();
    }

    private static ArrayNode experts(List<StepMetrics.LayerRouting> layers) {
        ArrayNode out = JSON.createArrayNode();
        for (StepMetrics.LayerRouting layer : layers) {
            ObjectNode node = out.addObject()
                    .put("layer", layer.layer())
                    .put("load_cv", layer.loadCv())
                    .put("router_entropy", layer.routerEntropy());
            node.putPOJO("tokens_per_expert", layer.tokensPerExpert());
        }
        return out;
    }

    private static void write(FSDataOutputStream out, ObjectNode line) throws IOException {
        out.write((JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void close() throws IOException {
        steps.close();
        rounds.close();
    }

    /** Averages of the finite steps' auxiliary losses, by name. */
    static Map<String, Double> meanAux(List<StepMetrics> steps) {
        Map<String, Double> sum = new TreeMap<>();
        Map<String, Integer> count = new TreeMap<>();
        for (StepMetrics s : steps) {
            s.auxLosses().forEach((k, v) -> {
                sum.merge(k, v, Double::sum);
                count.merge(k, 1, Integer::sum);
            });
        }
        sum.replaceAll((k, v) -> v / count.get(k));
        return sum;
    }
}
