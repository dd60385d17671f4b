package org.sparkmoe.model.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
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
 * hash models, attention kept or recomputed), the tensors of the routed experts, the dense FFNs and the attention by
 * role, the refusal of a model over a forced CPU memory limit with the settings that would fit (and that
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
            for (boolean recompute : new boolean[] {false, true}) {
                String what = override + (training ? " training" : " inference")
                        + (recompute ? ", recompute-attention" : "");
                checkEstimate(config, TRAIN.withRecomputeAttention(recompute), training, what);
            }
        }
    }

    private static void checkEstimate(ModelConfig config, TrainConfig train, boolean training, String what) {
        CpuBackend backend = new CpuBackend(1);
        MemoryEstimate estimate = MemoryEstimate.of(config, train.microBatch(), training, backend, null,
                train.recomputeAttention());
        try (TrainingEngine engine = training ? TrainingEngine.create(config, train, backend, 1)
                : TrainingEngine.createForInference(config, train, backend)) {
            assertEquals(estimate.tensorBytes(), backend.allocatedBytes(),
                    config.name() + " " + what + ": " + estimate);
            assertEquals(estimate, engine.memoryEstimate());
            long parameters = ParameterLayout.of(config).totalElements();
            assertEquals(4 * parameters, estimate.parameterBytes());
            assertEquals(training ? 4 * parameters : 0, estimate.gradientBytes());
            assertEquals(training ? 8 * parameters : 0, estimate.optimizerBytes());
            assertTrue(estimate.workspaceBytes() > 0);
        }
    }

    /**
     * The routed experts' tensors, by role as the model allocates them: per MoE layer one [S, D] slab (the gathered
     * inputs, then the outputs) and the gate and up rows g, u [S, I], plus int32 slots and expert offsets; once for
     * all layers h [S, I] (written again by the SwiGLU's backward) and the backward's buffers (dH among them). Keeping
     * the gathered inputs and h per layer as well would cost L·(S·D + S·I) fp32 more; an inference model holds one
     * slab, not inputs and outputs.
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
        Map<String, Long> bytes = bytesByRole(config, rows, training, false);
        long experts = bytes.entrySet().stream().filter(e -> e.getKey().startsWith("moe "))
                .mapToLong(Map.Entry::getValue).sum();
        long perLayer = 4 * (s * d + 2 * s * i + s + offsets);
        long backward = 4 * (s * d + 3 * s * i + s * d + s);
        long expected = training ? layers * perLayer + 4 * s * i + backward : perLayer + 4 * s * i;
        assertEquals(3, layers, "MoE layers of " + config.name());
        assertEquals(expected, experts, "the routed experts' bytes " + bytes);
        assertEquals(4 * s * i, bytes.get("moe hs"), "h: one buffer for all layers " + bytes);
        assertEquals((training ? layers : 1) * 4 * s * d, bytes.get("moe slab"), "slabs of S x D " + bytes);
    }

    /**
     * The dense SwiGLU FFNs' tensors (a dense first layer and the MoE layers' shared experts, or a dense model's
     * layers), by role: g and u [R, F] per layer; once for all layers h (forward's between the SwiGLU and the down
     * projection, written again by the SwiGLU's backward) and the backward's dH, dG and dU, each [R, F_max] of the
     * widest FFN. Keeping h per layer would cost Σ_l R·F_l fp32 more. An inference model shares g, u and h among the
     * layers of one width.
     */
    @ParameterizedTest(name = "{0}, training: {1}")
    @CsvSource({"moe, true", "moe, false", "dense, true", "dense, false"})
    void theFfnsKeepGAndUPerLayerAndShareOneHOfTheWidest(String variant, boolean training) {
        ModelConfig config = variant.equals("moe") ? TestConfigs.preset("tiny", "vocab_size=256", "num_hidden_layers=4")
                : TestConfigs.preset("tiny", "vocab_size=256", "num_hidden_layers=4", "routing=dense",
                        "n_routed_experts=0", "n_shared_experts=0", "num_experts_per_tok=0");
        int rows = TRAIN.microBatch() * config.maxSeqLen();
        long[] widths = new long[config.numLayers()];
        for (int l = 0; l < widths.length; l++) {
            widths[l] = config.isMoeLayer(l) ? config.sharedIntermediateSize() : config.intermediateSize();
        }
        long widest = Arrays.stream(widths).max().orElseThrow();
        long perLayer = training ? Arrays.stream(widths).sum() : Arrays.stream(widths).distinct().sum();
        assertTrue(variant.equals("dense") || widest > config.sharedIntermediateSize(), "a dense layer is the widest");
        Map<String, Long> bytes = bytesByRole(config, rows, training, false);
        assertEquals(4 * rows * perLayer, bytes.get("ffn g"), "g per layer " + bytes);
        assertEquals(4 * rows * perLayer, bytes.get("ffn u"), "u per layer " + bytes);
        assertEquals(4 * rows * (training ? widest : perLayer), bytes.get("ffn h"), "h " + bytes);
        assertEquals(training ? 4 * rows * widest : null, bytes.get("ffn dg"), "dG " + bytes);
        assertEquals(training ? 4 * rows * widest : null, bytes.get("ffn du"), "dU " + bytes);
        assertEquals(training ? 4 * rows * widest : null, bytes.get("ffn dh"), "dH " + bytes);
    }

    /**
     * With {@code recompute-attention} a training model holds q, k, v once for all layers instead of per layer: its
     * estimate is exactly 3·(L − 1)·R·D fp32 lower (val-2b at its H200 micro-batch of 8 × 2048 tokens too), and
     * every other tensor is the same. An inference model, which holds one set anyway, ignores the option.
     */
    @ParameterizedTest(name = "training: {0}")
    @ValueSource(booleans = {true, false})
    void recomputingAttentionHoldsOneSetOfQKV(boolean training) {
        ModelConfig config = TestConfigs.preset("tiny", "vocab_size=256", "num_hidden_layers=4");
        int rows = TRAIN.microBatch() * config.maxSeqLen();
        long qkv = 4L * rows * config.hiddenSize();
        Map<String, Long> kept = bytesByRole(config, rows, training, false);
        Map<String, Long> recomputed = bytesByRole(config, rows, training, true);
        for (String role : new String[] {"q", "k", "v"}) {
            assertEquals((training ? config.numLayers() : 1) * qkv, kept.remove(role), role + " kept " + kept);
            assertEquals(qkv, recomputed.remove(role), role + " recomputed " + recomputed);
        }
        assertEquals(kept, recomputed, "every other tensor");

        for (ModelConfig c : new ModelConfig[] {config, ModelPresets.load("val-2b")}) {
            int microBatch = c == config ? TRAIN.microBatch() : 8;
            long saved = training ? 3L * (c.numLayers() - 1) * 4 * microBatch * c.maxSeqLen() * c.hiddenSize() : 0;
            MemoryEstimate keeping = MemoryEstimate.tensors(c, microBatch, training);
            MemoryEstimate recomputing = MemoryEstimate.tensors(c, microBatch, training, null, true);
            assertEquals(saved, keeping.activationBytes() - recomputing.activationBytes(), c.name());
            assertEquals(keeping.tensorBytes() - saved, recomputing.tensorBytes(), c.name());
        }
    }

    /** The bytes a model of {@code config} allocates, by tensor name (its role), on a CPU backend. */
    private static Map<String, Long> bytesByRole(ModelConfig config, int rows, boolean training, boolean recompute) {
        Map<String, Long> bytes = new TreeMap<>();
        try (CpuBackend cpu = new CpuBackend(1)) {
            Backend recording = InterceptedBackend.of(cpu, (method, arguments, target) -> {
                if (method.equals("allocate")) {
                    bytes.merge((String) arguments[0], 4 * (long) arguments[2], Long::sum);
                } else if (method.equals("allocateOperand")) {
                    bytes.merge((String) arguments[0], 4 * (long) arguments[1], Long::sum);
                }
                return target.proceed();
            });
            if (training) {
                new DeepSeekMoeModel(config, recording, rows, null, recompute);
            } else {
                new DeepSeekMoeModel(config, recording, rows, false);
            }
        }
        return bytes;
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
