package org.sparkmoe.model.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.decoder.ParameterLayout;
import org.sparkmoe.model.testing.CorpusBytes;
import org.sparkmoe.model.testing.InterceptedBackend;
import org.sparkmoe.model.testing.TestConfigs;

/**
 * The engine's memory estimate against what its backend actually allocates (training and inference, MoE, dense and
 * hash models), the refusal of a model over a forced CPU memory limit with the settings that would fit (and that
 * they do fit), the inference engine's smaller footprint, and the long-indexed parameter and optimiser access.
 */
class MemoryEstimateTest {

    static final TrainConfig TRAIN = new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 10, 0.1, 0.9, 0.95, 1e-8,
            0.1, 1.0, 2);

    @ParameterizedTest
    @ValueSource(strings = {"", "routing=dense;n_routed_experts=0;n_shared_experts=0;num_experts_per_tok=0",
        "routing=hash;num_experts_per_tok=1", "n_shared_experts=0"})
    void theEstimateIsWhatTheEngineAllocates(String override) {
        String overrides = "vocab_size=256" + (override.isEmpty() ? "" : ";" + override);
        ModelConfig config = TestConfigs.preset("tiny", overrides.split(";"));
        for (boolean training : new boolean[] {true, false}) {
            CpuBackend backend = new CpuBackend(1);
            MemoryEstimate estimate = MemoryEstimate.of(config, TRAIN.microBatch(), training, backend);
            try (TrainingEngine engine = training ? TrainingEngine.create(config, TRAIN, backend, 1)
                    : TrainingEngine.createForInference(config, TRAIN, backend)) {
                assertEquals(estimate.tensorBytes(), backend.allocatedBytes(), config.name() + " " + override
                        + (training ? " training" : " inference") + ": " + estimate);
                assertEquals(estimate, engine.memoryEstimate());
                long parameters = ParameterLayout.of(config).totalElements();
                assertEquals(4 * parameters, estimate.parameterBytes());
                assertEquals(training ? 4 * parameters : 0, estimate.gradientBytes());
                assertEquals(training ? 8 * parameters : 0, estimate.optimizerBytes());
                assertTrue(estimate.workspaceBytes() > 0);
            }
        }
    }

    /**
     * The routed experts' tensors, by role as the model allocates them: per MoE layer one [S, D] slab (the gathered
     * inputs, then the outputs) and the gate and up rows g, u [S, I], plus int32 slots and expert offsets; once for
     * all layers h [S, I] (recomputed in backward) and the backward's buffers. Keeping the gathered inputs and h per
     * layer as well would cost L·(S·D + S·I) fp32 more; an inference model holds one slab, not inputs and outputs.
     */
    @ParameterizedTest(name = "training: {0}")
    @ValueSource(booleans = {true, false})
    void theRoutedExpertsKeepOneSlabAndTheGateAndUpRowsPerLayer(boolean training) {
        ModelConfig config = TestConfigs.preset("tiny", "vocab_size=256", "num_hidden_layers=4");
        int rows = TRAIN.microBatch() * config.maxSeqLen();
        long layers = config.moeLayerCount();
        long s = (long) rows * config.numExpertsPerTok();
        long d = config.hiddenSize();
        long i = config.moeIntermediateSize();
        long offsets = config.nRoutedExperts() + 1;
        Map<String, Long> bytes = new TreeMap<>();
        try (CpuBackend cpu = new CpuBackend(1)) {
            Backend recording = InterceptedBackend.of(cpu, (method, arguments, target) -> {
                if (method.equals("allocate")) {
                    bytes.merge((String) arguments[0], 4 * (long) arguments[2], Long::sum);
                }
                return target.proceed();
            });
            new DeepSeekMoeModel(config, recording, rows, training);
        }
        long experts = bytes.entrySet().stream().filter(e -> e.getKey().startsWith("moe "))
                .mapToLong(Map.Entry::getValue).sum();
        long perLayer = 4 * (s * d + 2 * s * i + s + offsets);
        long backward = 4 * (s * d + 2 * s * i + s * d + s);
        long expected = training ? layers * perLayer + 4 * s * i + backward : perLayer + 4 * s * i;
        assertEquals(3, layers, "MoE layers of " + config.name());
        assertEquals(expected, experts, "the routed experts' bytes " + bytes);
        assertEquals(4 * s * i, bytes.get("moe hs"), "h: one buffer for all layers " + bytes);
        assertEquals((training ? layers : 1) * 4 * s * d, bytes.get("moe slab"), "slabs of S x D " + bytes);
    }

    @Test
    void inferenceHoldsOneLayersActivations() {
        ModelConfig config = TestConfigs.preset("tiny", "vocab_size=256", "num_hidden_layers=6");
        MemoryEstimate training = MemoryEstimate.of(config, 2, true, new CpuBackend(1));
        MemoryEstimate inference = MemoryEstimate.of(config, 2, false, new CpuBackend(1));
        assertTrue(inference.activationBytes() * 3 < training.activationBytes(), inference + " vs " + training);
    }

    @Test
    void aModelOverTheMemoryLimitIsRefusedBeforeAllocationNamingWhatFits() {
        ModelConfig config = TestConfigs.preset("tiny", "vocab_size=256", "num_hidden_layers=6");
        long needed = MemoryEstimate.of(config, 2, true, new CpuBackend(1)).totalBytes();
        long limit = needed * 2 / 3;
        CpuBackend backend = new CpuBackend(1, limit);
        var e = assertThrows(ModelDoesNotFitException.class, () -> TrainingEngine.create(config, TRAIN, backend, 1));
        assertEquals(0, backend.allocatedBytes(), "nothing allocated before refusing");
        assertEquals(needed, e.estimate().totalBytes());
        assertTrue(e.getMessage().contains("but " + MemoryEstimate.gib(limit) + " is free (the CPU backend's"
                + " configured limit of " + limit + " bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("needs " + MemoryEstimate.gib(needed)), e.getMessage());
        Matcher layers = Pattern.compile("num_hidden_layers=(\\d+)").matcher(e.getMessage());
        assertTrue(layers.find(), e.getMessage());
        int fitting = Integer.parseInt(layers.group(1));
        assertTrue(fitting >= 1 && fitting < 6, e.getMessage());
        assertTrue(e.getMessage().contains("an inference engine for score/evaluate"), e.getMessage());
        try (TrainingEngine smaller = TrainingEngine.create(config.withNumLayers(fitting), TRAIN,
                new CpuBackend(1, limit), 1)) {
            assertEquals(fitting, smaller.modelConfig().numLayers());
        }
        assertThrows(ModelDoesNotFitException.class,
                () -> TrainingEngine.create(config.withNumLayers(fitting + 1), TRAIN, new CpuBackend(1, limit), 1));
    }

    @Test
    void sixteenBWithFourLayersIsPastTwoToTheThirtyOneParameters() {
        ModelConfig config = ModelPresets.load("16b").withNumLayers(4);
        long n = ParameterLayout.of(config).totalElements();
        assertTrue(n > Integer.MAX_VALUE, n + " parameters");
        MemoryEstimate estimate = MemoryEstimate.of(config, 1, true, new CpuBackend(1));
        assertEquals(16 * n, estimate.parameterBytes() + estimate.gradientBytes() + estimate.optimizerBytes());
    }

    @Test
    void longIndexedAccessMatchesTheArrays() {
        ModelConfig config = TestConfigs.preset("tiny", "vocab_size=256");
        int[] tokens = CorpusBytes.batch("en_python_docs.jsonl", 2, 17);
        try (TrainingEngine engine = TrainingEngine.create(config, TRAIN, new CpuBackend(1), 3);
             Arena arena = Arena.ofConfined()) {
            engine.step(tokens, 2, 17);
            int n = Math.toIntExact(engine.parameterCount());
            float[] params = new float[n];
            float[] state = new float[2 * n];
            engine.readParameters(params);
            engine.readOptimizerState(state);
            MemorySegment piece = arena.allocate(4L * n, 64);
            engine.readParameters(1000, 5000, piece);
            assertArrayEquals(java.util.Arrays.copyOfRange(params, 1000, 6000),
                    piece.asSlice(0, 4L * 5000).toArray(ValueLayout.JAVA_FLOAT));
            engine.readOptimizerState(n - 7, 20, piece);
            assertArrayEquals(java.util.Arrays.copyOfRange(state, n - 7, n + 13),
                    piece.asSlice(0, 4L * 20).toArray(ValueLayout.JAVA_FLOAT), "a range across m and v");
            MemorySegment.copy(new float[] {1f, 2f, 3f}, 0, piece, ValueLayout.JAVA_FLOAT, 0, 3);
            engine.writeOptimizerState(n - 1, 3, piece);
            engine.writeParameters(n - 3, 3, piece);
            engine.readOptimizerState(state);
            engine.readParameters(params);
            assertArrayEquals(new float[] {1f, 2f, 3f}, java.util.Arrays.copyOfRange(state, n - 1, n + 2));
            assertArrayEquals(new float[] {1f, 2f, 3f}, java.util.Arrays.copyOfRange(params, n - 3, n));
            assertEquals(engine.parameterArena().size(), engine.gradientArena().size());
            assertEquals(engine.parameterCount(), engine.adamM().size());
            var outside = assertThrows(IllegalArgumentException.class,
                    () -> engine.readOptimizerState(2L * n - 1, 2, piece));
            assertTrue(outside.getMessage().contains("outside"), outside.getMessage());
        }
    }
}
