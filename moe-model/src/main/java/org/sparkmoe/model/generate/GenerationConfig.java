package org.sparkmoe.model.generate;

/**
 * How one prompt is continued. Sampling draws from the softmax of {@code logits / temperature}, restricted to the
 * {@code topK} most likely ids and then to the smallest most-likely set whose probabilities reach {@code topP}
 * together; ties rank the lower id first. A prompt's random stream is seeded by {@code seed} alone, so the same
 * prompt, settings and seed give the same completion whatever else runs in its batch.
 *
 * @param maxNewTokens the most tokens to generate (at least 1)
 * @param temperature  softmax temperature (&gt;= 0); 0 is greedy: the most likely id at every step, no randomness
 * @param topK         sample among the k most likely ids only (&gt;= 0); 0 = no limit, 1 = greedy
 * @param topP         nucleus sampling, in (0, 1]; 1 = no limit
 * @param seed         the seed of this prompt's random stream
 * @param eosId        stop once this id is generated (it is part of the completion); -1 = never
 */
public record GenerationConfig(int maxNewTokens, double temperature, int topK, double topP, long seed, int eosId) {

    public GenerationConfig {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max-new-tokens=" + maxNewTokens + " must be at least 1");
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature=" + temperature + " must be finite and >= 0 (0 = greedy)");
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k=" + topK + " must be >= 0 (0 = all tokens)");
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p=" + topP + " must be in (0, 1] (1 = all tokens)");
        }
        if (eosId < -1) {
            throw new IllegalArgumentException("EOS id " + eosId + " must be a token id, or -1 for none");
        }
    }

    /** Greedy decoding of at most {@code maxNewTokens} tokens, stopping at {@code eosId} (-1: never). */
    public static GenerationConfig greedy(int maxNewTokens, int eosId) {
        return new GenerationConfig(maxNewTokens, 0, 0, 1, 0, eosId);
    }

    /** Whether every step takes the most likely id (temperature 0 or top-k 1). */
    public boolean isGreedy() {
        return temperature == 0 || topK == 1;
    }
}
