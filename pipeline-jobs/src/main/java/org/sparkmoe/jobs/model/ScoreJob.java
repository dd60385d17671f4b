package org.sparkmoe.jobs.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.io.HadoopCheckpointFiles;
import org.sparkmoe.jobs.io.LocalFiles;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.jobs.tokenizer.TokenizerJson;
import org.sparkmoe.jobs.train.EngineDevice;
import org.sparkmoe.model.backend.Backend;
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
 * {@code --logits FILE.safetensors} also every sequence's logits at every input position, the last one included
 * (the next-token prediction after the sequence). With {@code --tokenizer tokenizer.json} a line may also be
 * {@code {"text": ...}}, encoded as HF's {@code encode} does by default (special tokens added). Every path is any
 * Hadoop URI, opened with the job's {@code spark.hadoop.*} settings; the engine runs on the CPU or a GPU
 * ({@code backend}, {@code device}). A bad input line is reported on its own output line and counted; it never
 * stops the job.
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
    public int run(JobSettings settings) throws Exception {
        Configuration hadoop = JobHadoop.forJob(settings);
        Path checkpoint = new Path(settings.string("checkpoint"));
        Path input = new Path(settings.string("input"));
        int threads = settings.integer("threads");
        settings.require(threads >= 0, "threads", ">= 0");
        EngineDevice device = EngineDevice.fromSettings(settings, "score of " + checkpoint);
        FileSystem checkpointFs = checkpoint.getFileSystem(hadoop);
        if (!checkpointFs.exists(new Path(checkpoint, Checkpoints.CONFIG))) {
            throw new UsageException("checkpoint " + checkpoint + " has no " + Checkpoints.CONFIG
                    + ": give a directory written by the trainer or a DeepSeekMoE safetensors + config.json");
        }
        FileSystem inputFs = input.getFileSystem(hadoop);
        if (!inputFs.isFile(input)) {
            throw new UsageException("input " + input + " is not a readable file");
        }
        Tokenizer tokenizer = settings.has("tokenizer")
                ? TokenizerJson.read(settings.string("tokenizer"), hadoop).tokenizer() : null;
        String outputPath = settings.string("output", "");
        String logitsPath = settings.string("logits", "");
        List<Safetensors.Source> logits = new ArrayList<>();
        long scored = 0;
        long bad = 0;
        double lossSum = 0;
        try (LocalFiles local = new LocalFiles(hadoop)) {
            Backend backend = device.open(device.bind(null),
                    threads == 0 ? Runtime.getRuntime().availableProcessors() : threads);
            TrainingEngine engine;
            try {
                // The weights stream tensor by tensor from the checkpoint into an engine without training state.
                engine = Checkpoints.loadForInference(new HadoopCheckpointFiles(checkpointFs, checkpoint),
                        TrainConfig.forInference(1), backend);
            } catch (IllegalArgumentException | IOException e) {
                backend.close();
                throw new UsageException("checkpoint " + checkpoint + " cannot be used: " + e.getMessage(), e);
            }
            if (tokenizer != null && tokenizer.vocabSize() > engine.modelConfig().vocabSize()) {
                engine.close();
                throw new UsageException("tokenizer " + settings.string("tokenizer") + " has " + tokenizer.vocabSize()
                        + " ids but the checkpoint's model has vocab_size " + engine.modelConfig().vocabSize()
                        + ": give the tokenizer the model was trained with");
            }
            // stdout is written through a UTF-8 view that is flushed, never closed: the launcher may run more jobs.
            PrintStream out = outputPath.isEmpty() ? new PrintStream(System.out, false, StandardCharsets.UTF_8)
                    : new PrintStream(new Path(outputPath).getFileSystem(hadoop).create(new Path(outputPath), true),
                            false, StandardCharsets.UTF_8);
            try (engine; BufferedReader reader = new BufferedReader(new InputStreamReader(inputFs.open(input),
                    StandardCharsets.UTF_8))) {
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
                            logits.add(logitsAtEveryPosition(engine, ids, "logits." + lineNo));
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
                local.write(new Path(logitsPath), file -> Safetensors.write(file, logits, Safetensors.Dtype.F32,
                        Map.of("checkpoint", checkpoint.toString())));
            }
        }
        LOG.info("scored {} sequences (mean loss {}), {} bad lines reported in the output", scored,
                scored == 0 ? Double.NaN : lossSum / scored, bad);
        return 0;
    }

    /**
     * The logits of a sequence at every input position, {@code [T, vocab]}: row t predicts the token after position
     * t, so the last row predicts the token that would follow the sequence (it has no target, so no loss). A
     * sequence of max_position_embeddings + 1 ids has that many input positions: its last id is a target only.
     */
    static Safetensors.Source logitsAtEveryPosition(TrainingEngine engine, int[] ids, String name) {
        int positions = Math.min(ids.length, engine.modelConfig().maxSeqLen());
        // One row of positions + 1 ids: the inputs, then padding (-1), which is never a target.
        int[] row = java.util.Arrays.copyOf(ids, positions + 1);
        row[positions] = positions < ids.length ? ids[positions] : -1;
        engine.model().loadBatch(row, 0, 1, positions + 1);
        float[] values = engine.model().forwardLogits(1, positions);
        return new Safetensors.Source(name, new int[] {positions, engine.modelConfig().vocabSize()}, values, 0);
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
