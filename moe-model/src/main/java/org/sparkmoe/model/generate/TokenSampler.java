package org.sparkmoe.model.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from one row of logits as a {@link GenerationConfig} says: greedy (the most likely id, the
 * lowest on ties), or a draw from the temperature softmax after the top-k and top-p cuts. Candidates are ranked by
 * logit, then by id, so the cuts never depend on sort stability; probabilities are in fp64. Randomness comes only
 * from the caller's per-prompt stream, one {@code nextDouble} per sampled token.
 */
final class TokenSampler {

    private TokenSampler() {
    }

    /** The next id from {@code logits[offset, offset + vocabulary)}. */
    static int next(float[] logits, int offset, int vocabulary, GenerationConfig config, SplittableRandom random) {
        if (config.isGreedy()) {
            return argmax(logits, offset, vocabulary);
        }
        double inverseTemperature = 1.0 / config.temperature();
        boolean ranked = config.topK() > 0 || config.topP() < 1;
        int candidates = config.topK() > 0 ? Math.min(config.topK(), vocabulary) : vocabulary;
        int[] ids = ranked ? ranking(logits, offset, vocabulary) : null;
        double max = logits[offset + argmax(logits, offset, vocabulary)];
        double[] weights = new double[candidates];
        double total = 0;
        for (int c = 0; c < candidates; c++) {
            int id = ranked ? ids[c] : c;
            weights[c] = Math.exp((logits[offset + id] - max) * inverseTemperature);
            total += weights[c];
        }
        if (config.topP() < 1) {
            double kept = 0;
            int n = 0;
            while (n < candidates && (n == 0 || kept < config.topP() * total)) {
                kept += weights[n++];
            }
            candidates = n;
            total = kept;
        }
        double u = random.nextDouble() * total;
        for (int c = 0; c < candidates; c++) {
            u -= weights[c];
            if (u < 0) {
                return ranked ? ids[c] : c;
            }
        }
        return ranked ? ids[candidates - 1] : candidates - 1;
    }

    /** The id of the largest logit, the lowest id on ties; refuses NaN logits (a broken checkpoint). */
    static int argmax(float[] logits, int offset, int vocabulary) {
        int best = 0;
        for (int id = 0; id < vocabulary; id++) {
            float value = logits[offset + id];
            if (Float.isNaN(value)) {
                throw new IllegalStateException("the model's logit for id " + id + " is NaN: the checkpoint's weights"
                        + " are not finite, so nothing can be generated from it");
            }
            if (value > logits[offset + best]) {
                best = id;
            }
        }
        return best;
    }

    /**
     * Ids by decreasing logit, ties by increasing id: each id packed under its logit's order-reversed bits so one
     * primitive sort ranks them.
     */
    private static int[] ranking(float[] logits, int offset, int vocabulary) {
        long[] keys = new long[vocabulary];
        for (int id = 0; id < vocabulary; id++) {
            int bits = Float.floatToIntBits(logits[offset + id]);
            int ordered = bits ^ ((bits >> 31) & 0x7fffffff);
            keys[id] = ((long) ~ordered << 32) | id;
        }
        Arrays.sort(keys);
        int[] ids = new int[vocabulary];
        for (int i = 0; i < vocabulary; i++) {
            ids[i] = (int) keys[i];
        }
        return ids;
    }
}
