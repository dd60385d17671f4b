package org.sparkmoe.model.decoder;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.sparkmoe.model.attention.KvCache;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.testing.CachedDecoding;
import org.sparkmoe.model.testing.TestConfigs;

/**
 * Generation's forward against a KV cache gives the logits of a full forward over the whole sequence: for the
 * {@code tiny} MoE model (dense layer 0, MoE layer 1) on real text, prompts prefilled in passes smaller than a prompt
 * and the rest decoded one token per step ({@link CachedDecoding}), every position's logits equal the full forward's
 * to float tolerance. The inference model behind it holds no gradients; a training model refuses the cached forward.
 */
class CachedForwardTest {

    private static final ModelConfig TINY = TestConfigs.tinyWithClearRouting();

    @Test
    void cachedPrefillAndDecodeGiveTheFullForwardsLogits() {
        CachedDecoding.Logits logits = CachedDecoding.run(new CpuBackend(2), TINY, 11,
                CachedDecoding.corpusTexts(TINY.maxSeqLen()));
        for (int s = 0; s < logits.lengths().length; s++) {
            double err = CachedDecoding.maxRelativeError(logits.cached()[s], logits.full()[s]);
            System.out.printf("text %d (%d tokens, prompt %d): cached vs full logits max rel err %.2e%n", s,
                    logits.lengths()[s], logits.promptLengths()[s], err);
            assertTrue(err < 1e-5, "text " + s + ": cached logits differ from the full forward by " + err);
        }
    }

    @Test
    void anInferenceModelHasNoGradientsAndRefusesBackwardAndATrainingModelRefusesTheCache() {
        try (CpuBackend backend = new CpuBackend(1)) {
            DeepSeekMoeModel model = new DeepSeekMoeModel(TINY, backend, 8, false);
            assertNull(model.parameters().grads(), "an inference model has no gradient arena");
            IllegalStateException refused = assertThrows(IllegalStateException.class, () -> model.backward(1, 8));
            assertTrue(refused.getMessage().contains("built for inference"), refused.getMessage());
            DeepSeekMoeModel training = new DeepSeekMoeModel(TINY, backend, 8);
            KvCache cache = KvCache.allocate(backend, TINY.numLayers(), 1, TINY.maxSeqLen(), TINY.hiddenSize());
            IllegalStateException cached = assertThrows(IllegalStateException.class, () -> training.forwardCached(
                    cache, new int[] {1}, new int[] {0}, new int[] {0}, 1, new int[] {0}));
            assertTrue(cached.getMessage().contains("inference engine"), cached.getMessage());
        }
    }
}
