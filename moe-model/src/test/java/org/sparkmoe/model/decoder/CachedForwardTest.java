package org.sparkmoe.model.decoder;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.attention.KvCache;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.testing.CorpusBytes;
import org.sparkmoe.model.testing.TestConfigs;

/**
 * Generation's forward against a KV cache gives the logits of a full forward over the whole sequence: for the
 * {@code tiny} MoE model (dense layer 0, MoE layer 1) on real text, three sequences prefilled together in passes
 * smaller than a prompt (so prompts continue across passes), then decoded one token per sequence per step, every
 * position's logits equal the full forward's at that position to float tolerance. The forward-only model behind it
 * holds no gradients.
 */
class CachedForwardTest {

    /** tiny, with weights large enough that the router's top-2 is never a near-tie that rounding could flip. */
    static final ModelConfig TINY = TestConfigs.preset("tiny", "vocab_size=256", "init_std=0.05");

    @Test
    void cachedPrefillAndDecodeGiveTheFullForwardsLogits() {
        int context = TINY.maxSeqLen();
        int vocab = TINY.vocabSize();
        int[][] texts = {CorpusBytes.batch("en_wikitext.jsonl", 1, context),
            CorpusBytes.batch("code.jsonl", 1, 45), CorpusBytes.batch("en_gutenberg.jsonl", 1, 30)};
        int[] promptLengths = {20, 5, 13};
        try (CpuBackend backend = new CpuBackend(2)) {
            DeepSeekMoeModel full = new DeepSeekMoeModel(TINY, backend, context);
            full.initialize(11);
            DeepSeekMoeModel cached = DeepSeekMoeModel.forInference(TINY, backend, 16);
            cached.initialize(11);
            float[][] expected = new float[texts.length][];
            for (int s = 0; s < texts.length; s++) {
                int[] withTarget = java.util.Arrays.copyOf(texts[s], texts[s].length + 1);
                full.loadBatch(withTarget, 0, 1, withTarget.length);
                expected[s] = full.forwardLogits(1, texts[s].length);
            }

            KvCache cache = KvCache.allocate(backend, TINY.numLayers(), texts.length, context, TINY.hiddenSize());
            float[][] ours = new float[texts.length][];
            for (int s = 0; s < texts.length; s++) {
                ours[s] = new float[texts[s].length * vocab];
            }
            // Prefill: every prompt row, 16 rows per pass, every row's logits kept.
            List<int[]> rows = new ArrayList<>();
            for (int s = 0; s < texts.length; s++) {
                for (int t = 0; t < promptLengths[s]; t++) {
                    rows.add(new int[] {s, t});
                }
            }
            for (int first = 0; first < rows.size(); first += 16) {
                run(cached, cache, texts, rows.subList(first, Math.min(rows.size(), first + 16)), ours);
            }
            // Decode: the next position of every sequence that has one, one row each, per step.
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
                run(cached, cache, texts, decode, ours);
            }
            for (int s = 0; s < texts.length; s++) {
                double err = maxRelativeError(ours[s], expected[s]);
                System.out.printf("sequence %d (%d tokens, prompt %d): cached vs full logits max rel err %.2e%n", s,
                        texts[s].length, promptLengths[s], err);
                assertTrue(err < 1e-5, "sequence " + s + ": cached logits differ from the full forward by " + err);
            }

            assertNull(cached.parameters().grads(), "a forward-only model has no gradient arena");
            assertThrows(IllegalStateException.class, () -> cached.backward(1, 1));
        }
    }

    /** Feeds {@code rows} ({sequence, position}) in one call and stores each row's logits at its position. */
    private static void run(DeepSeekMoeModel model, KvCache cache, int[][] texts, List<int[]> rows, float[][] out) {
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
    static double maxRelativeError(float[] ours, float[] reference) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < reference.length; i++) {
            diff = Math.max(diff, Math.abs(ours[i] - reference[i]));
            scale = Math.max(scale, Math.abs(reference[i]));
        }
        return diff / scale;
    }
}
