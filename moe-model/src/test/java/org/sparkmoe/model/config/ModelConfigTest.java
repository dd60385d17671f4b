package org.sparkmoe.model.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Properties;
import org.junit.jupiter.api.Test;

class ModelConfigTest {

    /** The paper's totals (DeepSeekMoE paper, Tables 1, 2, 3, 6) at its rounding to 0.1B. */
    @Test
    void parameterCountsReproduceThePaper() {
        assertParams("16b", "16.4B", "2.8B");
        assertParams("145b", "144.6B", "22.2B");
        assertParams("val-2b", "2.0B", "0.3B");
        assertParams("val-2b-dense", "0.2B", "0.2B");
        assertParams("val-2b-hash", "2.0B", "0.2B");
        assertParams("val-2b-switch", "2.0B", "0.2B");
        assertParams("val-2b-gshard", "2.0B", "0.3B");
    }

    /** Paper: FLOPs per 2K tokens 2.9T (Dense), 4.3T (2B), per 4K tokens 74.4T (16B), 585.6T (145B). */
    @Test
    void flopCountsAreWithinThreePercentOfThePaper() {
        assertFlops("val-2b-dense", 2048, 2.9e12);
        assertFlops("val-2b", 2048, 4.3e12);
        assertFlops("16b", 4096, 74.4e12);
        assertFlops("145b", 4096, 585.6e12);
    }

    @Test
    void everyPresetLoadsAndSmallMatchesTheTorchAnchor() {
        for (String name : ModelPresets.NAMES) {
            assertEquals(name, ModelPresets.load(name).name());
        }
        ModelConfig small = ModelPresets.load("small");
        // PyTorch anchor's "small": vocab 8192, d 512, 8 heads, 6 layers, seq 1024, 31 routed + 1 shared, top-3, 352.
        assertEquals(8192, small.vocabSize());
        assertEquals(512, small.hiddenSize());
        assertEquals(8, small.numHeads());
        assertEquals(6, small.numLayers());
        assertEquals(1024, small.maxSeqLen());
        assertEquals(31, small.nRoutedExperts());
        assertEquals(1, small.nSharedExperts());
        assertEquals(3, small.numExpertsPerTok());
        assertEquals(352, small.moeIntermediateSize());
        for (int l = 0; l < small.numLayers(); l++) {
            assertTrue(small.isMoeLayer(l));
        }
        ModelConfig m16 = ModelPresets.load("16b");
        assertFalse(m16.isMoeLayer(0));
        assertTrue(m16.isMoeLayer(1));
        assertEquals(2816, m16.sharedIntermediateSize());
    }

    @Test
    void inconsistentConfigsAreRefusedNamingTheFields() {
        ModelConfig t = ModelPresets.load("tiny");
        var e1 = assertThrows(IllegalArgumentException.class, () -> withTopK(t, 9));
        assertTrue(e1.getMessage().contains("num_experts_per_tok=9") && e1.getMessage().contains("n_routed_experts=8"),
                e1.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> new ModelConfig("x", 512, 2, 64, 5, 128, 32,
                8, 1, 2, 1, 1, false, Routing.SOFTMAX_TOPK, 0.01, true, 0, 1, 1e4, 1e-6, 64, 0.006));
        assertTrue(e2.getMessage().contains("num_attention_heads=5 does not divide hidden_size=64"), e2.getMessage());
        var e3 = assertThrows(IllegalArgumentException.class, () -> new ModelConfig("x", 512, 2, 64, 4, 128, 32,
                0, 2, 0, 1, 1, false, Routing.DENSE, 0, true, 0, 1, 1e4, 1e-6, 64, 0.006));
        assertTrue(e3.getMessage().contains("n_shared_experts"), e3.getMessage());
        var e4 = assertThrows(IllegalArgumentException.class, () -> new ModelConfig("x", 512, 2, 64, 4, 128, 32,
                8, 0, 2, 1, 1, false, Routing.HASH, 0, true, 0, 1, 1e4, 1e-6, 64, 0.006));
        assertTrue(e4.getMessage().contains("routing=hash needs num_experts_per_tok=1"), e4.getMessage());
        Properties p = new Properties();
        p.setProperty("vocab_sise", "3");
        var e5 = assertThrows(IllegalArgumentException.class, () -> ModelPresets.fromProperties("typo", p));
        assertTrue(e5.getMessage().contains("unknown keys [vocab_sise]"), e5.getMessage());
        var e6 = assertThrows(IllegalArgumentException.class, () -> ModelPresets.load("nope"));
        assertTrue(e6.getMessage().contains("'nope' does not exist"), e6.getMessage());
    }

    @Test
    void resolveReadsAPropertiesFileOrAPresetName(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = dir.resolve("mine.properties");
        try (var in = ModelConfigTest.class.getClassLoader()
                .getResourceAsStream("sparkmoe-conf/models/tiny.properties")) {
            String text = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
                    .replace("num_experts_per_tok=2", "num_experts_per_tok=3");
            java.nio.file.Files.writeString(file, text);
        }
        ModelConfig mine = ModelPresets.resolve(file.toString());
        assertEquals("mine", mine.name());
        assertEquals(3, mine.numExpertsPerTok());
        assertEquals(ModelPresets.load("small"), ModelPresets.resolve("small"));
    }

    static ModelConfig withTopK(ModelConfig c, int k) {
        return new ModelConfig(c.name(), c.vocabSize(), c.numLayers(), c.hiddenSize(), c.numHeads(),
                c.intermediateSize(), c.moeIntermediateSize(), c.nRoutedExperts(), c.nSharedExperts(), k,
                c.firstKDenseReplace(), c.moeLayerFreq(), c.normTopkProb(), c.routing(), c.auxLossAlpha(),
                c.seqAux(), c.deviceLossAlpha(), c.deviceGroups(), c.ropeTheta(), c.rmsNormEps(), c.maxSeqLen(),
                c.initStd());
    }

    private static void assertParams(String preset, String total, String activated) {
        ModelSize size = ModelSize.of(ModelPresets.load(preset));
        assertEquals(total, ModelSize.billions(size.totalParams()), preset + " total");
        assertEquals(activated, ModelSize.billions(size.activatedParams()), preset + " activated");
    }

    private static void assertFlops(String preset, int tokens, double paper) {
        double ours = ModelSize.of(ModelPresets.load(preset)).flopsPerToken() * tokens;
        assertEquals(1.0, ours / paper, 0.03, preset + ": ours " + ours + " vs paper " + paper);
    }
}
