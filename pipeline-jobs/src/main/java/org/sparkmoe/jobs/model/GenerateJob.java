package org.sparkmoe.jobs.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.io.AtomicPublish;
import org.sparkmoe.jobs.io.HadoopCheckpointFiles;
import org.sparkmoe.jobs.spark.SparkSessions;
import org.sparkmoe.jobs.tokenizer.TokenizerJson;
import org.sparkmoe.jobs.train.EngineDevice;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.generate.Completion;
import org.sparkmoe.model.generate.GenerationRequest;
import org.sparkmoe.model.generate.Generator;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * {@code sparkmoe generate --checkpoint DIR --tokenizer tokenizer.json --input prompts.jsonl --output out.jsonl}:
 * continues each prompt of a JSON Lines file with a checkpoint's model (greedy or sampled, {@link PromptSettings})
 * and writes one JSON line per input line, in input order: {@code line}, {@code id}, {@code prompt},
 * {@code completion} (text), {@code completion_ids}, {@code tokens_generated} and {@code stop} ({@code eos},
 * {@code max-new-tokens} or {@code context}); a bad line gets {@code error} instead, is counted and named in the log,
 * and never stops the job. Runs on the driver (no Spark tasks): prompts go through the engine's {@link Generator}
 * {@code batch-size} at a time, with a KV cache, on the CPU or a CUDA device. Paths are any Hadoop URIs.
 */
public final class GenerateJob implements Job {

    private static final Logger LOG = LogManager.getLogger(GenerateJob.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String name() {
        return "generate";
    }

    @Override
    public String summary() {
        return "continue JSON Lines prompts with a checkpoint's model (greedy or sampled, KV cache, CPU or CUDA)";
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        PromptSettings defaults = PromptSettings.from(settings);
        int batchSize = settings.integer("batch-size");
        int prefillTokens = settings.integer("prefill-tokens");
        settings.require(batchSize >= 1, "batch-size", "at least 1");
        settings.require(prefillTokens >= 1, "prefill-tokens", "at least 1");
        settings.require(settings.integer("threads") >= 0, "threads", ">= 0");
        Configuration hadoop = SparkSessions.forJob(settings).sparkContext().hadoopConfiguration();
        Tokenizer tokenizer = TokenizerJson.read(settings.string("tokenizer"), hadoop).tokenizer();
        String eos = settings.string("eos-token", "");
        if (eos.isEmpty() && defaults.stopAtEos()) {
            throw new UsageException("stop-at-eos=true needs eos-token: name the tokenizer's end-of-text token, or set"
                    + " stop-at-eos=false");
        }
        int eosId = eos.isEmpty() ? -1 : TokenizerJson.requireToken(tokenizer, eos, "eos-token");
        String bos = settings.string("bos-token", "");
        int bosId = bos.isEmpty() ? -1 : TokenizerJson.requireToken(tokenizer, bos, "bos-token");
        Path input = new Path(settings.string("input"));
        FileSystem inputFs = input.getFileSystem(hadoop);
        if (!inputFs.isFile(input)) {
            throw new UsageException("input " + input + " is not a file: give a JSON Lines file of prompts");
        }

        try (Generator generator = load(settings, hadoop, batchSize, prefillTokens)) {
            if (tokenizer.vocabSize() > generator.config().vocabSize()) {
                throw new UsageException("tokenizer " + settings.string("tokenizer") + " has " + tokenizer.vocabSize()
                        + " ids but the checkpoint's model has vocab_size " + generator.config().vocabSize()
                        + ": give the tokenizer the model was trained with");
            }
            Run run = new Run(generator, tokenizer, defaults, eosId, bosId);
            String output = settings.string("output", "");
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(inputFs.open(input),
                    StandardCharsets.UTF_8))) {
                if (output.isEmpty()) {
                    // stdout is flushed, never closed: the launcher may run more jobs.
                    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
                    run.all(reader, out);
                    out.flush();
                } else {
                    Path target = new Path(output);
                    AtomicPublish.writeFile(target.getFileSystem(hadoop), target, stream -> run.all(reader, stream));
                }
            }
            run.summarise(output.isEmpty() ? "stdout" : output);
        }
        return 0;
    }

    /**
     * The checkpoint's model in an inference engine on the chosen backend, for batches of {@code batchSize} prompts:
     * the weights stream from the checkpoint's filesystem (one file or shards) tensor by tensor.
     */
    private static Generator load(JobSettings settings, Configuration hadoop, int batchSize, int prefillTokens)
            throws IOException {
        String uri = settings.string("checkpoint");
        Path dir = new Path(uri);
        FileSystem fs = dir.getFileSystem(hadoop);
        if (!fs.isFile(new Path(dir, Checkpoints.CONFIG))) {
            throw new UsageException("checkpoint " + uri + " has no " + Checkpoints.CONFIG + ": give a directory"
                    + " written by the trainer (its final/ or a checkpoint) or a DeepSeekMoE config.json with its"
                    + " safetensors");
        }
        Backend backend = openBackend(settings);
        try {
            // Generator.load closes the backend when it fails.
            return Generator.load(new HadoopCheckpointFiles(fs, dir), backend, batchSize, prefillTokens);
        } catch (IllegalArgumentException | FileNotFoundException e) {
            throw new UsageException("checkpoint " + uri + " cannot be used: " + e.getMessage(), e);
        }
    }

    /** The backend of {@code backend} and {@code device} ({@link EngineDevice}: cuda never falls back to the CPU). */
    private static Backend openBackend(JobSettings settings) {
        int threads = settings.integer("threads");
        EngineDevice device = EngineDevice.fromSettings(settings, "generate");
        try {
            return device.open(device.bind(null), threads == 0 ? Runtime.getRuntime().availableProcessors() : threads);
        } catch (IllegalStateException e) {
            throw new UsageException(e.getMessage(), e);
        }
    }

    /** The prompts of one input, read and answered in order, {@code batch-size} valid ones at a time. */
    private static final class Run {

        private final Generator generator;
        private final Tokenizer tokenizer;
        private final PromptSettings defaults;
        private final int eosId;
        private final int bosId;
        private final List<Integer> badLines = new ArrayList<>();
        private final long started = System.nanoTime();
        private long prompts;
        private long tokens;

        /** A line waiting for its batch: its output so far, and its request when it is a valid prompt. */
        private record Pending(ObjectNode result, GenerationRequest request) {
        }

        Run(Generator generator, Tokenizer tokenizer, PromptSettings defaults, int eosId, int bosId) {
            this.generator = generator;
            this.tokenizer = tokenizer;
            this.defaults = defaults;
            this.eosId = eosId;
            this.bosId = bosId;
        }

        void all(BufferedReader reader, OutputStream stream) throws IOException {
            PrintStream out = stream instanceof PrintStream p ? p : new PrintStream(stream, false,
                    StandardCharsets.UTF_8);
            List<Pending> pending = new ArrayList<>();
            int valid = 0;
            String text;
            int lineNumber = 0;
            while ((text = reader.readLine()) != null) {
                lineNumber++;
                if (text.isBlank()) {
                    continue;
                }
                Pending p = read(text, lineNumber);
                pending.add(p);
                if (p.request() != null && ++valid == generator.batchSize()) {
                    flush(pending, out);
                    valid = 0;
                }
            }
            flush(pending, out);
            out.flush();
        }

        private Pending read(String text, int lineNumber) {
            ObjectNode result = JSON.createObjectNode().put("line", lineNumber);
            JsonNode object = null;
            try {
                object = PromptLine.object(text);
                PromptLine line = PromptLine.of(object, lineNumber, defaults);
                result.set("id", line.id());
                result.put("prompt", line.prompt());
                int[] ids = tokenizer.encode(line.prompt());
                if (bosId >= 0) {
                    int[] withBos = new int[ids.length + 1];
                    withBos[0] = bosId;
                    System.arraycopy(ids, 0, withBos, 1, ids.length);
                    ids = withBos;
                }
                generator.checkPrompt(ids);
                if (line.settings().stopAtEos() && eosId < 0) {
                    throw new IllegalArgumentException("\"stop-at-eos\": true needs the job's eos-token, which is"
                            + " empty");
                }
                return new Pending(result, new GenerationRequest(ids, line.settings().config(eosId)));
            } catch (IllegalArgumentException e) {
                badLines.add(lineNumber);
                ObjectNode error = JSON.createObjectNode().put("line", lineNumber);
                error.set("id", PromptLine.id(object, lineNumber));
                return new Pending(error.put("error", e.getMessage()), null);
            }
        }

        /** Generates for the valid pending lines, then writes every pending line in input order. */
        private void flush(List<Pending> pending, PrintStream out) throws IOException {
            List<GenerationRequest> requests = pending.stream().map(Pending::request)
                    .filter(java.util.Objects::nonNull).toList();
            long batchStart = System.nanoTime();
            List<Completion> completions = generator.generate(requests, tokenizer.vocabSize());
            int next = 0;
            long batchTokens = 0;
            for (Pending p : pending) {
                if (p.request() != null) {
                    Completion c = completions.get(next++);
                    int[] ids = c.tokens();
                    p.result().put("completion", tokenizer.decode(ids));
                    p.result().putPOJO("completion_ids", ids);
                    p.result().put("tokens_generated", ids.length);
                    p.result().put("stop", c.stop().label());
                    batchTokens += ids.length;
                }
                out.println(JSON.writeValueAsString(p.result()));
            }
            if (!requests.isEmpty()) {
                prompts += requests.size();
                tokens += batchTokens;
                double seconds = (System.nanoTime() - batchStart) / 1e9;
                LOG.info("{} prompts done: {} tokens in {} s ({} tokens/s)", prompts, batchTokens,
                        String.format("%.2f", seconds), String.format("%.1f", batchTokens / Math.max(seconds, 1e-9)));
            }
            pending.clear();
        }

        void summarise(String output) {
            double seconds = (System.nanoTime() - started) / 1e9;
            LOG.info("generated {} tokens for {} prompts in {} s -> {}", tokens, prompts,
                    String.format("%.1f", seconds), output);
            if (!badLines.isEmpty()) {
                LOG.warn("{} bad lines reported with \"error\" in the output: line{} {}", badLines.size(),
                        badLines.size() == 1 ? "" : "s", badLines.size() <= 20 ? badLines
                                : badLines.subList(0, 20) + " ...");
            }
        }
    }
}
