package org.sparkmoe.model.testing;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.sparkmoe.model.attention.KvCache;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;

/**
 * The logits of every position of three token sequences two ways on one backend: a full forward over each whole
 * sequence, and generation's path through a {@link KvCache}: the three prompts ({@link #PROMPT_LENGTHS}) prefilled
 * together in passes of {@value #PASS_ROWS} rows (fewer than a prompt, so prompts continue across passes), then the
 * rest decoded one token per sequence per step. Both models start from the same seed's weights.
 */
public final class CachedDecoding {

    /** Rows per prefill pass (the inference model's activations). */
    public static final int PASS_ROWS = 16;
    /** Prompt tokens of each sequence; the sequences are longer. */
    public static final int[] PROMPT_LENGTHS = {20, 5, 13};

    /** Full-forward ({@code full}) and KV-cache ({@code cached}) logits per text, each {@code [T, V]}. */
    public record Logits(float[][] full, float[][] cached, int[] lengths, int[] promptLengths) {
    }

    private CachedDecoding() {
    }

    /** Real text as UTF-8 bytes: the model's whole context, 45 and 30 tokens. */
    public static int[][] corpusTexts(int context) {
        return new int[][] {CorpusBytes.batch("en_wikitext.jsonl", 1, context), CorpusBytes.batch("code.jsonl", 1, 45),
            CorpusBytes.batch("en_gutenberg.jsonl", 1, 30)};
    }

    /**
     * Runs both paths on {@code backend} (closed afterwards) for a model of {@code config} over {@code texts} (three
     * sequences longer than {@link #PROMPT_LENGTHS}, at most the context long).
     */
    public static Logits run(Backend backend, ModelConfig config, long seed, int[][] texts) {
        int context = config.maxSeqLen();
        int vocab = config.vocabSize();
        int[] promptLengths = PROMPT_LENGTHS;
        try (backend) {
            DeepSeekMoeModel full = new DeepSeekMoeModel(config, backend, context);
            full.initialize(seed);
            DeepSeekMoeModel cached = new DeepSeekMoeModel(config, backend, PASS_ROWS, false);
            cached.initialize(seed);
            float[][] expected = new float[texts.length][];
            float[][] ours = new float[texts.length][];
            for (int s = 0; s < texts.length; s++) {
                int[] withTarget = Arrays.copyOf(texts[s], texts[s].length + 1);
                full.loadBatch(withTarget, 0, 1, withTarget.length);
                expected[s] = full.forwardLogits(1, texts[s].length);
                ours[s] = new float[texts[s].length * vocab];
            }
            KvCache cache = KvCache.allocate(backend, config.numLayers(), texts.length, context, config.hiddenSize());
            List<int[]> prompt = new ArrayList<>();
            for (int s = 0; s < texts.length; s++) {
                for (int t = 0; t < promptLengths[s]; t++) {
                    prompt.add(new int[] {s, t});
                }
            }
            for (int first = 0; first < prompt.size(); first += PASS_ROWS) {
                feed(cached, cache, texts, prompt.subList(first, Math.min(prompt.size(), first + PASS_ROWS)), ours);
            }
            for (int step = 0; ; step++) {
                List<int[]> decode = new ArrayList<>();
                for (int s = 0; s < texts.length; s++) {
                    if (promptLengths[s] + step < texts[s].length) {
                        decode.add(new int[] {s, promptLengths[s] + step});
                    }
                }
                if (decode.isEmpty()) {
                    break;
                }
                feed(cached, cache, texts, decode, ours);
            }
            int[] lengths = Arrays.stream(texts).mapToInt(t -> t.length).toArray();
            return new Logits(expected, ours, lengths, promptLengths);
        }
    }

    /** Feeds {@code rows} ({text, position}) in one call and stores every row's logits at its position. */
    private static void feed(DeepSeekMoeModel model, KvCache cache, int[][] texts, List<int[]> rows, float[][] out) {
        int n = rows.size();
        int[] tokens = new int[n];
        int[] slots = new int[n];
        int[] positions = new int[n];
        int[] all = new int[n];
        for (int r = 0; r < n; r++) {
            int s = rows.get(r)[0];
            int t = rows.get(r)[1];
            tokens[r] = texts[s][t];
            slots[r] = cache.slot(s, t);
            positions[r] = t;
            all[r] = r;
        }
        float[] logits = model.forwardCached(cache, tokens, slots, positions, n, all);
        int v = model.config().vocabSize();
        for (int r = 0; r < n; r++) {
            System.arraycopy(logits, r * v, out[rows.get(r)[0]], rows.get(r)[1] * v, v);
        }
    }

    /** max |ours − ref| / max |ref|. */
    public static double maxRelativeError(float[] ours, float[] reference) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < reference.length; i++) {
            diff = Math.max(diff, Math.abs(ours[i] - reference[i]));
            scale = Math.max(scale, Math.abs(reference[i]));
        }
        return diff / scale;
    }
}
