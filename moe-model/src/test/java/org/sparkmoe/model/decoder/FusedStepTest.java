package org.sparkmoe.model.decoder;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.testing.InterceptedBackend;
import org.sparkmoe.model.testing.TestConfigs;

/**
 * The memory-bound ops of a training micro-batch are the fused ones (docs/engine.md, "Fused memory-bound ops"): the
 * backend calls of one forward and backward of a preset's layer structure, counted on their way to the CPU backend.
 * Every residual add runs inside a norm, the router is one op each way, the loss sum is the cross-entropy's, and a
 * layer without shared experts zeroes nothing first. Widths are shrunk: the calls do not depend on them.
 */
class FusedStepTest {

    @ParameterizedTest
    @CsvSource({"small, 6, 6, true", "val-2b, 9, 9, true", "cmp-gshard, 8, 8, false", "tiny, 2, 1, true"})
    void aMicroBatchIssuesTheFusedOps(String preset, int layers, int moeLayers, boolean sharedExperts) {
        ModelConfig config = TestConfigs.preset(preset, "hidden_size=32", "num_attention_heads=2",
                "intermediate_size=32", "moe_intermediate_size=16", "vocab_size=64", "max_position_embeddings=8");
        int batch = 2;
        int seqLen = 8;
        Map<String, Integer> calls = new TreeMap<>();
        try (CpuBackend cpu = new CpuBackend(1)) {
            Backend counting = InterceptedBackend.of(cpu, (method, arguments, target) -> {
                calls.merge(method, 1, Integer::sum);
                return target.proceed();
            });
            DeepSeekMoeModel model = new DeepSeekMoeModel(config, counting, batch * seqLen);
            model.initialize(3);
            int[] tokens = new int[batch * (seqLen + 1)];
            SplittableRandom random = new SplittableRandom(5);
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = random.nextInt(config.vocabSize());
            }
            model.loadBatch(tokens, 0, batch, seqLen + 1);
            calls.clear();
            model.forward(batch, seqLen, 1f / (batch * seqLen), 1f, true);
            model.backward(batch, seqLen);
        }
        System.out.println(preset + ": " + calls.values().stream().mapToInt(Integer::intValue).sum()
                + " backend calls in a micro-batch " + calls);
        assertEquals(layers, config.numLayers(), "layers of " + preset);
        assertEquals(moeLayers, config.moeLayerCount(), "MoE layers of " + preset);
        assertEquals(0, calls.getOrDefault("add", 0), "residual adds outside a norm");
        assertEquals(2 * layers, calls.get("rmsNormResidualForward"), "residual adds fused with the norm after them");
        assertEquals(1 + 2 * layers, calls.get("rmsNormForward"),
                "plain norms: the first layer's, after the embedding, and each layer's two again in backward");
        assertEquals(2 * layers + 1, calls.get("rmsNormBackward"), "norm backwards");
        assertEquals(moeLayers, calls.get("routerForward"), "router forwards");
        assertEquals(moeLayers, calls.get("routerBackward"), "router backwards");
        for (String separate : new String[] {"softmaxRows", "topK", "routerEntropy", "topKBackward", "balanceLoss",
            "softmaxRowsBackward", "sum"}) {
            assertEquals(0, calls.getOrDefault(separate, 0), separate + " calls outside the fused ops");
        }
        assertEquals(1, calls.get("crossEntropy"), "cross-entropy with its loss sum");
        assertEquals(1, calls.get("fill"), "zeroed buffers: the residual gradient only"
                + (sharedExperts ? "" : ", none before a combine or dispatch backward"));
    }
}
