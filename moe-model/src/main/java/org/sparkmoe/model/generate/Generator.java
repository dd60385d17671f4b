package org.sparkmoe.model.generate;

import static org.sparkmoe.model.train.MemoryEstimate.gib;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.sparkmoe.model.attention.KvCache;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.MemoryInfo;
import org.sparkmoe.model.checkpoint.CheckpointFiles;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.train.MemoryEstimate;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Continues prompts with an inference engine's model and a {@link KvCache}, {@code batchSize} prompts at a time. Each
 * batch is prefilled (all its prompt tokens, in forward passes of at most {@code prefillTokens} rows, their keys and
 * values kept in the cache), then decoded one token per unfinished prompt per step, each step reading every layer's
 * cached keys and values. A prompt stops at its EOS id, after its {@code maxNewTokens}, or when prompt and completion
 * fill the context ({@link StopReason}). Sampling happens on the host ({@link TokenSampler}) from each prompt's own
 * stream.
 *
 * <p>The engine is an inference engine ({@link TrainingEngine#createForInference},
 * {@link Checkpoints#loadForInference}): parameters and one layer's activations, no gradients, no optimiser state;
 * beside it only the cache is allocated. The generator owns (and closes) the engine and so its backend; one thread
 * at a time.
 */
public final class Generator implements AutoCloseable {

    private final TrainingEngine engine;
    private final DeepSeekMoeModel model;
    private final KvCache cache;
    private final int batchSize;
    private final int prefillTokens;

    /**
     * A generator over inference engine {@code engine} (which it takes over) with a cache for {@code batchSize}
     * sequences, prefilling in passes of at most {@code prefillTokens} rows (both at most the engine's rows per
     * forward, its micro-batch times the context).
     */
    public Generator(TrainingEngine engine, int batchSize, int prefillTokens) {
        if (engine.training()) {
            throw new IllegalArgumentException("generation runs on an inference engine (no gradients, no optimiser"
                    + " state): build it with TrainingEngine.createForInference or Checkpoints.loadForInference");
        }
        DeepSeekMoeModel model = engine.model();
        if (batchSize < 1 || batchSize > model.maxRows()) {
            throw new IllegalArgumentException("batch-size=" + batchSize + " must be between 1 and the "
                    + model.maxRows() + " rows the engine's activations hold");
        }
        if (prefillTokens < 1 || prefillTokens > model.maxRows()) {
            throw new IllegalArgumentException("prefill-tokens=" + prefillTokens + " must be between 1 and the "
                    + model.maxRows() + " rows the engine's activations hold");
        }
        ModelConfig config = model.config();
        this.engine = engine;
        this.model = model;
        this.batchSize = batchSize;
        this.prefillTokens = prefillTokens;
        this.cache = KvCache.allocate(engine.backend(), config.numLayers(), batchSize, config.maxSeqLen(),
                config.hiddenSize());
    }

    /**
     * Loads a checkpoint's config and weights (one file or Hugging Face shards, streamed tensor by tensor) into an
     * inference engine on {@code backend} (taken over, closed on failure too) for batches of {@code batchSize}
     * prompts, prefilling at most {@code prefillTokens} tokens per forward pass. The engine's micro-batch is the
     * fewest whole sequences that hold {@code max(batchSize, prefillTokens)} rows. Refuses, before anything is
     * allocated, an engine and cache that the backend's free memory cannot hold.
     */
    public static Generator load(CheckpointFiles checkpoint, Backend backend, int batchSize, int prefillTokens)
            throws IOException {
        TrainingEngine engine = null;
        try {
            if (batchSize < 1 || prefillTokens < 1) {
                throw new IllegalArgumentException("batch-size=" + batchSize + " and prefill-tokens=" + prefillTokens
                        + " must both be at least 1");
            }
            ModelConfig config = Checkpoints.readConfig(checkpoint);
            int sequences = Math.ceilDiv(Math.max(batchSize, prefillTokens), config.maxSeqLen());
            refuseCacheIfTooLarge(config, sequences, batchSize, backend);
            engine = Checkpoints.loadForInference(checkpoint, TrainConfig.forInference(sequences), backend);
            return new Generator(engine, batchSize, prefillTokens);
        } catch (IOException | RuntimeException e) {
            if (engine != null) {
                engine.close();
            }
            backend.close();
            throw e;
        }
    }

    /**
     * Refuses a KV cache that the memory left beside the engine cannot hold, naming the batch size that fits. An
     * engine that does not fit by itself is left to the engine's own refusal, which names what would.
     */
    private static void refuseCacheIfTooLarge(ModelConfig config, int sequences, int batchSize, Backend backend) {
        MemoryEstimate engine = MemoryEstimate.of(config, sequences, false, backend);
        MemoryInfo memory = backend.memory();
        long room = memory.freeBytes() - engine.totalBytes();
        long cache = KvCache.bytes(config.numLayers(), batchSize, config.maxSeqLen(), config.hiddenSize());
        if (room < 0 || cache <= room) {
            return;
        }
        long perSequence = KvCache.bytes(config.numLayers(), 1, config.maxSeqLen(), config.hiddenSize());
        throw new IllegalArgumentException("model " + config.name() + " generating batch-size=" + batchSize
                + " prompts needs " + engine + " for the inference engine and " + gib(cache) + " for the KV cache ("
                + gib(perSequence) + " per prompt of " + config.maxSeqLen() + " positions), but "
                + gib(memory.freeBytes()) + " is free (" + memory.source() + "; backend " + backend.describe() + "): "
                + (room >= perSequence ? "batch-size=" + room / perSequence + " fits"
                        : "not even one prompt's cache fits beside the weights"));
    }

    public ModelConfig config() {
        return model.config();
    }

    public int batchSize() {
        return batchSize;
    }

    /** Refuses a prompt that cannot be continued, saying why: empty, an id outside the vocabulary, too long. */
    public void checkPrompt(int[] prompt) {
        ModelConfig config = model.config();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty: give at least one token");
        }
        if (prompt.length >= config.maxSeqLen()) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens but the model's context is "
                    + config.maxSeqLen() + " (max_position_embeddings): shorten it to at most "
                    + (config.maxSeqLen() - 1) + " tokens to leave room for one new token");
        }
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("prompt id " + prompt[i] + " at position " + i
                        + " is outside the model's vocabulary of " + config.vocabSize());
            }
        }
    }

    /** Continues every request, drawing ids from the model's whole vocabulary. */
    public List<Completion> generate(List<GenerationRequest> requests) {
        return generate(requests, model.config().vocabSize());
    }

    /**
     * Continues every request ({@link #checkPrompt} must accept each), in order, {@link #batchSize} at a time. Ids
     * are drawn from {@code [0, vocabulary)}: the tokenizer's ids when the model's table has padding rows beyond them.
     */
    public List<Completion> generate(List<GenerationRequest> requests, int vocabulary) {
        if (vocabulary < 1 || vocabulary > model.config().vocabSize()) {
            throw new IllegalArgumentException("vocabulary " + vocabulary + " must be between 1 and the model's "
                    + model.config().vocabSize());
        }
        for (GenerationRequest r : requests) {
            checkPrompt(r.prompt());
        }
        List<Completion> out = new ArrayList<>(requests.size());
        for (int first = 0; first < requests.size(); first += batchSize) {
            out.addAll(new Batch(requests.subList(first, Math.min(requests.size(), first + batchSize)), vocabulary)
                    .run());
        }
        return out;
    }

    /** One batch: sequence b of the batch owns cache sequence b. */
    private final class Batch {

        private final List<GenerationRequest> requests;
        private final int vocabulary;
        private final int context;
        private final int[][] ids;
        private final int[] length;
        private final int[] generated;
        private final StopReason[] stop;
        private final SplittableRandom[] random;
        private final int[] tokens;
        private final int[] slots;
        private final int[] positions;
        private final int[] owners;

        Batch(List<GenerationRequest> requests, int vocabulary) {
            this.requests = requests;
            this.vocabulary = vocabulary;
            this.context = model.config().maxSeqLen();
            int n = requests.size();
            this.ids = new int[n][context];
            this.length = new int[n];
            this.generated = new int[n];
            this.stop = new StopReason[n];
            this.random = new SplittableRandom[n];
            for (int b = 0; b < n; b++) {
                int[] prompt = requests.get(b).prompt();
                System.arraycopy(prompt, 0, ids[b], 0, prompt.length);
                length[b] = prompt.length;
                random[b] = new SplittableRandom(requests.get(b).config().seed());
            }
            int rows = model.maxRows();
            this.tokens = new int[rows];
            this.slots = new int[rows];
            this.positions = new int[rows];
            this.owners = new int[rows];
        }

        List<Completion> run() {
            prefill();
            decode();
            List<Completion> out = new ArrayList<>(requests.size());
            for (int b = 0; b < requests.size(); b++) {
                int[] completion = new int[generated[b]];
                System.arraycopy(ids[b], length[b] - generated[b], completion, 0, generated[b]);
                out.add(new Completion(completion, stop[b]));
            }
            return out;
        }

        /**
         * Every prompt token through the model in passes of at most prefillTokens rows; each prompt's last row samples.
         */
        private void prefill() {
            int rows = 0;
            List<Integer> logitRows = new ArrayList<>();
            for (int b = 0; b < requests.size(); b++) {
                for (int t = 0; t < length[b]; t++) {
                    add(rows, b, t);
                    if (t == length[b] - 1) {
                        logitRows.add(rows);
                    }
                    if (++rows == prefillTokens) {
                        forward(rows, logitRows);
                        rows = 0;
                        logitRows.clear();
                    }
                }
            }
            if (rows > 0) {
                forward(rows, logitRows);
            }
        }

        /** One row per unfinished prompt per step: its last token, at the position after its cached ones. */
        private void decode() {
            List<Integer> logitRows = new ArrayList<>();
            while (true) {
                int rows = 0;
                logitRows.clear();
                for (int b = 0; b < requests.size(); b++) {
                    if (stop[b] == null) {
                        add(rows, b, length[b] - 1);
                        logitRows.add(rows++);
                    }
                }
                if (rows == 0) {
                    return;
                }
                forward(rows, logitRows);
            }
        }

        private void add(int row, int b, int position) {
            tokens[row] = ids[b][position];
            slots[row] = cache.slot(b, position);
            positions[row] = position;
            owners[row] = b;
        }

        private void forward(int rows, List<Integer> logitRows) {
            int[] wanted = logitRows.stream().mapToInt(Integer::intValue).toArray();
            float[] logits = model.forwardCached(cache, tokens, slots, positions, rows, wanted);
            int v = model.config().vocabSize();
            for (int j = 0; j < wanted.length; j++) {
                append(owners[wanted[j]], logits, j * v);
            }
        }

        private void append(int b, float[] logits, int offset) {
            GenerationConfig config = requests.get(b).config();
            int id = TokenSampler.next(logits, offset, vocabulary, config, random[b]);
            ids[b][length[b]++] = id;
            generated[b]++;
            if (id == config.eosId()) {
                stop[b] = StopReason.EOS;
            } else if (generated[b] == config.maxNewTokens()) {
                stop[b] = StopReason.MAX_NEW_TOKENS;
            } else if (length[b] == context) {
                stop[b] = StopReason.CONTEXT;
            }
        }
    }

    /** Closes the engine and its backend (the model's and the cache's memory). */
    @Override
    public void close() {
        engine.close();
    }
}
