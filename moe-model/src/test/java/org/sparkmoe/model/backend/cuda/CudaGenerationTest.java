package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.sparkmoe.model.backend.cuda.Checks.FP32_TOLERANCE;
import static org.sparkmoe.model.backend.cuda.Checks.gaussian;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.backend.cuda.BackendPair.Both;
import org.sparkmoe.model.checkpoint.CheckpointFiles;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.generate.Completion;
import org.sparkmoe.model.generate.GenerationConfig;
import org.sparkmoe.model.generate.GenerationRequest;
import org.sparkmoe.model.generate.Generator;
import org.sparkmoe.model.testing.CachedDecoding;
import org.sparkmoe.model.testing.GenerateFixture;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Generation on the CUDA backend: the KV-cache ops ({@code ropeAt}, the cache write through {@code dispatchRows},
 * {@code cachedAttention}) against the CPU backend on ragged rows, head dims from 8 to 256, fp32 within 1e-5; the
 * {@code tiny} model's cached prefill and decode against the full forward on the GPU (fp32 GEMMs within 1e-5 at every
 * position, bf16 GEMMs within 3e-2) and against the CPU backend's cached path; sampled generation equal to the
 * CPU backend's; greedy generation on the PyTorch reference's fixture. Skipped without a GPU.
 */
class CudaGenerationTest {

    private static final ModelConfig TINY = TestConfigs.tinyWithClearRouting();
    /**
     * bf16 operands (8 significant bits) round slightly different inputs on the two paths, and the full forward's
     * attention products are bf16 GEMMs where the cache's attention is fp32: expected well under this after two layers
     * and the head; a wrong position or cache row gives errors of order 1.
     */
    private static final double BF16_PATHS_TOLERANCE = 3e-2;

    @ParameterizedTest
    @ValueSource(ints = {8, 20, 64, 128, 256})
    void kvCacheOpsMatchTheCpuBackend(int headDim) {
        Random random = Checks.seededRandom("kv cache ops hd" + headDim);
        int heads = 3;
        int capacity = 300;
        int dim = heads * headDim;
        // A 37-row prompt of sequence 0, one decoding row of sequence 2 at position 290, two rows of sequence 1.
        List<Integer> sequenceOf = new ArrayList<>();
        List<Integer> positionOf = new ArrayList<>();
        for (int t = 0; t < 37; t++) {
            sequenceOf.add(0);
            positionOf.add(t);
        }
        sequenceOf.addAll(List.of(2, 1, 1));
        positionOf.addAll(List.of(290, 101, 102));
        int rows = sequenceOf.size();
        int[] slots = new int[rows];
        int[] positions = new int[rows];
        for (int r = 0; r < rows; r++) {
            positions[r] = positionOf.get(r);
            slots[r] = sequenceOf.get(r) * capacity + positions[r];
        }
        try (BackendPair pair = new BackendPair(GemmPrecision.FP32)) {
            Both q = pair.input("q", gaussian(random, rows * dim, 1));
            Both k = pair.input("k", gaussian(random, rows * dim, 1));
            Both v = pair.input("v", gaussian(random, rows * dim, 1));
            Both kCache = pair.input("k cache", gaussian(random, 3 * capacity * dim, 1));
            Both vCache = pair.input("v cache", gaussian(random, 3 * capacity * dim, 1));
            Both slotsB = pair.ints("slots", slots);
            Both positionsB = pair.ints("positions", positions);
            Both out = pair.output("out", rows * dim);
            pair.run((be, s) -> {
                be.ropeAt(s.of(q), s.of(positionsB), rows, heads, headDim, 10000f);
                be.ropeAt(s.of(k), s.of(positionsB), rows, heads, headDim, 10000f);
                be.dispatchRows(s.of(k), s.of(slotsB), s.of(kCache), rows, 1, dim);
                be.dispatchRows(s.of(v), s.of(slotsB), s.of(vCache), rows, 1, dim);
                be.cachedAttention(s.of(q), s.of(kCache), s.of(vCache), s.of(out), s.of(slotsB), s.of(positionsB),
                        rows, heads, headDim);
            });
            pair.assertClose("ropeAt q hd" + headDim, q, FP32_TOLERANCE);
            pair.assertClose("k cache after the write hd" + headDim, kCache, FP32_TOLERANCE);
            pair.assertClose("cached attention hd" + headDim, out, FP32_TOLERANCE);
        }
    }

    /** Token ids drawn from a fixed seed (the GPU machine has no corpus): {@code lengths} sequences. */
    private static int[][] sequences(int... lengths) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(3);
        int[][] out = new int[lengths.length][];
        for (int s = 0; s < lengths.length; s++) {
            out[s] = random.ints(lengths[s], 0, TINY.vocabSize()).toArray();
        }
        return out;
    }

    @Test
    void cachedDecodingGivesTheFullForwardsLogitsOnTheGpu() {
        CudaDevice device = GpuTests.device();
        int[][] texts = sequences(TINY.maxSeqLen(), 45, 30);
        CachedDecoding.Logits fp32 = CachedDecoding.run(
                new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM), TINY, 11, texts);
        CachedDecoding.Logits bf16 = CachedDecoding.run(
                new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM), TINY, 11, texts);
        CachedDecoding.Logits cpu = CachedDecoding.run(new CpuBackend(2), TINY, 11, texts);
        for (int s = 0; s < fp32.lengths().length; s++) {
            Checks.assertClose("text " + s + " fp32: cached vs full forward on CUDA", fp32.cached()[s], fp32.full()[s],
                    FP32_TOLERANCE);
            Checks.assertClose("text " + s + " fp32: CUDA cached vs CPU cached", fp32.cached()[s], cpu.cached()[s],
                    FP32_TOLERANCE);
            Checks.assertClose("text " + s + " bf16: cached vs full forward on CUDA", bf16.cached()[s], bf16.full()[s],
                    BF16_PATHS_TOLERANCE);
        }
    }

    @Test
    void sampledGenerationMatchesTheCpuBackend() {
        CudaDevice device = GpuTests.device();
        List<GenerationRequest> requests = new ArrayList<>();
        int[] text = sequences(40)[0];
        requests.add(new GenerationRequest(java.util.Arrays.copyOf(text, 12), GenerationConfig.greedy(20, -1)));
        requests.add(new GenerationRequest(java.util.Arrays.copyOfRange(text, 5, 30),
                new GenerationConfig(20, 0.8, 20, 0.95, 42, -1)));
        requests.add(new GenerationRequest(new int[] {text[0]}, new GenerationConfig(30, 1.0, 0, 1, 7, -1)));
        List<Completion> cpu = generate(new CpuBackend(2), requests);
        List<Completion> cuda = generate(new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM), requests);
        for (int i = 0; i < requests.size(); i++) {
            assertArrayEquals(cpu.get(i).tokens(), cuda.get(i).tokens(), "request " + i);
            assertEquals(cpu.get(i).stop(), cuda.get(i).stop(), "request " + i);
        }
    }

    private static List<Completion> generate(Backend backend, List<GenerationRequest> requests) {
        TrainingEngine engine = TrainingEngine.createForInference(TINY, TrainConfig.forInference(1), backend);
        engine.model().initialize(21);
        try (Generator generator = new Generator(engine, 2, 16)) {
            return generator.generate(requests);
        }
    }

    @Test
    void greedyGenerationOnTheGpuEqualsPyTorch() throws Exception {
        CudaDevice device = GpuTests.device();
        Optional<GenerateFixture> found = GenerateFixture.load();
        assumeTrue(found.isPresent(), "no " + GenerateFixture.RESOURCE + ": produce it with `"
                + GenerateFixture.PRODUCE + "`");
        GenerateFixture fixture = found.get();
        CudaBackend backend = new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM);
        try (Generator generator = Generator.load(CheckpointFiles.local(GenerateFixture.modelDirectory()), backend,
                fixture.prompts().size(), 16)) {
            List<Completion> out = generator.generate(fixture.greedyRequests());
            for (int i = 0; i < out.size(); i++) {
                assertArrayEquals(fixture.generated().get(i), out.get(i).tokens(), "CUDA fp32, " + fixture.describe(i));
            }
        }
    }
}
