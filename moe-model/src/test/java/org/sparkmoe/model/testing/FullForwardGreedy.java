package org.sparkmoe.model.testing;

import java.util.Arrays;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;

/**
 * Greedy decoding without a KV cache, the way a reference implementation without one does it: for every new token a
 * full forward over the whole sequence so far, then the argmax of the last position's logits (the lowest id on ties,
 * as {@code torch.argmax}). The model's activations must hold the longest sequence.
 */
public final class FullForwardGreedy {

    private FullForwardGreedy() {
    }

    /** The {@code newTokens} ids that greedy decoding appends to {@code prompt}. */
    public static int[] continuation(DeepSeekMoeModel model, int[] prompt, int newTokens) {
        int v = model.config().vocabSize();
        int[] sequence = Arrays.copyOf(prompt, prompt.length + newTokens + 1);
        for (int n = prompt.length; n < prompt.length + newTokens; n++) {
            model.loadBatch(sequence, 0, 1, n + 1);
            float[] logits = model.forwardLogits(1, n);
            int best = 0;
            for (int id = 1; id < v; id++) {
                if (logits[(n - 1) * v + id] > logits[(n - 1) * v + best]) {
                    best = id;
                }
            }
            sequence[n] = best;
        }
        return Arrays.copyOfRange(sequence, prompt.length, prompt.length + newTokens);
    }
}
