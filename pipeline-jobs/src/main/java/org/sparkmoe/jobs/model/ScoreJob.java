package org.sparkmoe.jobs.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobOption;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.train.EvalMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * {@code sparkmoe score --checkpoint DIR --input FILE}: loads a checkpoint (ours, or any DeepSeekMoE safetensors
 * + config.json in the 16B names) and writes each sequence's mean cross-entropy as one JSON line; with
 * {@code --logits FILE.safetensors} also every sequence's logits. With {@code --tokenizer tokenizer.json} a line may
 * also be {@code {"text": ...}}, encoded as HF's {@code encode} does by default (special tokens added). A bad input
 * line is reported on its own output line and counted; it never stops the job.
 */
public final class ScoreJob implements Job {

    private static final Logger LOG = LogManager.getLogger(ScoreJob.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String name() {
        return "score";
    }

    @Override
    public String summary() {
        return "per-sequence loss (and optionally logits) of a checkpoint on JSON Lines of token ids or text";
    }

    @Override
    public List<JobOption> options() {
        return List.of(
                JobOption.required("checkpoint", "checkpoint directory (local) with config.json and model.safetensors"),
                JobOption.required("input", "JSON Lines file (local): each line a JSON array of token ids or an object"
                        + " with a \"tokens\" array; 2 to max_position_embeddings+1 ids; with --tokenizer also"
                        + " {\"text\": ...}"),
                JobOption.of("tokenizer", "tokenizer.json (local) that encodes {\"text\": ...} lines; empty = token ids"
                        + " only"),
                JobOption.of("output", "file for the JSON-lines result ({\"line\",\"tokens\",\"loss\"} or"
                        + " {\"line\",\"error\"}); empty = stdout"),
                JobOption.of("logits", "safetensors file for each sequence's logits, tensor logits.<line> [T, vocab];"
                        + " empty = none"),
                JobOption.of("threads", "CPU backend threads; 0 = one per available processor"));
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        Path checkpoint = Path.of(settings.string("checkpoint"));
        Path input = Path.of(settings.string("input"));
        int threads = settings.integer("threads");
        settings.require(threads >= 0, "threads", ">= 0");
        if (!Files.isRegularFile(checkpoint.resolve(Checkpoints.CONFIG))) {
            throw new UsageException("checkpoint " + checkpoint + " has no " + Checkpoints.CONFIG
                    + ": give a directory written by the trainer or a DeepSeekMoE safetensors + config.json");
        }
        if (!Files.isRegularFile(input)) {
            throw new UsageException("input " + input + " is not a readable file");
        }
        Tokenizer tokenizer = settings.find("tokenizer").map(ScoreJob::loadTokenizer).orElse(null);
        CpuBackend backend = threads == 0 ? CpuBackend.withAllCores() : new CpuBackend(threads);
        TrainingEngine engine;
        try {
            engine = Checkpoints.loadForInference(checkpoint, TrainConfig.forInference(1), backend);
        } catch (IllegalArgumentException | IOException e) {
            backend.close();
            throw new UsageException("checkpoint " + checkpoint + " cannot be used: " + e.getMessage(), e);
        }
        String outputPath = settings.string("output", "");
        String logitsPath = settings.string("logits", "");
        List<Safetensors.Source> logits = new ArrayList<>();
        long scored = 0;
        long bad = 0;
        double lossSum = 0;
        if (tokenizer != null && tokenizer.vocabSize() > engine.modelConfig().vocabSize()) {
            engine.close();
            throw new UsageException("tokenizer " + settings.string("tokenizer") + " has " + tokenizer.vocabSize()
                    + " ids but the checkpoint's model has vocab_size " + engine.modelConfig().vocabSize()
                    + ": give the tokenizer the model was trained with");
        }
        // stdout is written through a UTF-8 view that is flushed, never closed: the launcher may run more jobs.
        PrintStream out = outputPath.isEmpty() ? new PrintStream(System.out, false, StandardCharsets.UTF_8)
                : new PrintStream(Files.newOutputStream(Path.of(outputPath)), false, StandardCharsets.UTF_8);
        try (engine; BufferedReader reader = Files.newBufferedReader(input, StandardCharsets.UTF_8)) {
            ModelConfig config = engine.modelConfig();
            String line;
            int lineNo = 0;
            while ((line = reader.readLine()) != null) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                ObjectNode result = JSON.createObjectNode().put("line", lineNo);
                try {
                    int[] ids = parse(line, config, tokenizer);
                    EvalMetrics m = engine.evaluate(ids, 1, ids.length);
                    result.put("tokens", ids.length).put("loss", m.loss());
                    scored++;
                    lossSum += m.loss();
                    if (!logitsPath.isEmpty()) {
                        engine.model().loadBatch(ids, 0, 1, ids.length);
                        float[] values = engine.model().forwardLogits(1, ids.length - 1);
                        logits.add(new Safetensors.Source("logits." + lineNo,
                                new int[] {ids.length - 1, config.vocabSize()}, values, 0));
                    }
                } catch (IllegalArgumentException | IOException e) {
                    bad++;
                    result.put("error", e.getMessage());
                }
                out.println(JSON.writeValueAsString(result));
            }
        } finally {
            if (outputPath.isEmpty()) {
                out.flush();
            } else {
                out.close();
            }
        }
        if (!logitsPath.isEmpty()) {
            Safetensors.write(Path.of(logitsPath), logits, Safetensors.Dtype.F32, Map.of("checkpoint",
                    checkpoint.toString()));
        }
        LOG.info("scored {} sequences (mean loss {}), {} bad lines reported in the output", scored,
                scored == 0 ? Double.NaN : lossSum / scored, bad);
        return 0;
    }

    private static Tokenizer loadTokenizer(String path) {
        try {
            return Tokenizer.load(Path.of(path));
        } catch (RuntimeException e) {
            throw new UsageException("tokenizer " + path + " cannot be loaded: " + e.getMessage(), e);
        }
    }

    /**
     * Token ids of one input line; refuses anything the model cannot score, naming what is wrong. Text lines need a
     * tokenizer ({@code null}: ids only).
     */
    static int[] parse(String line, ModelConfig config, Tokenizer tokenizer) throws IOException {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (IOException e) {
            throw new IllegalArgumentException("not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        int[] ids;
        if (node.isObject() && node.has("text")) {
            if (tokenizer == null) {
                throw new IllegalArgumentException("a \"text\" line needs --tokenizer");
            }
            ids = tokenizer.encode(node.get("text").asText(), true);
        } else {
            JsonNode array = node.isArray() ? node : node.path("tokens");
            if (!array.isArray()) {
                throw new IllegalArgumentException("expected a JSON array of token ids, an object with \"tokens\""
                        + (tokenizer == null ? "" : " or an object with \"text\""));
            }
            ids = new int[array.size()];
            for (int i = 0; i < ids.length; i++) {
                JsonNode v = array.get(i);
                if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 0
                        || v.asInt() >= config.vocabSize()) {
                    throw new IllegalArgumentException("id " + v + " at position " + i + " is not a token id in [0, "
                            + config.vocabSize() + ")");
                }
                ids[i] = v.asInt();
            }
        }
        if (ids.length < 2 || ids.length > config.maxSeqLen() + 1) {
            throw new IllegalArgumentException(ids.length + " ids: need 2 to " + (config.maxSeqLen() + 1)
                    + " (max_position_embeddings + 1)");
        }
        return ids;
    }
}
