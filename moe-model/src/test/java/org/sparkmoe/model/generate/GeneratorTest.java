package org.sparkmoe.model.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.model.attention.KvCache;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.CheckpointFiles;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.decoder.ParameterInit;
import org.sparkmoe.model.testing.CorpusBytes;
import org.sparkmoe.model.testing.FullForwardGreedy;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.train.MemoryEstimate;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The generator on the {@code tiny} MoE model (random weights, real text prompts as bytes): greedy decoding with the
 * KV cache equals greedy decoding by full forwards; sampling is reproducible per seed, independent of the batch it
 * runs in, and differs between seeds; top-k 1 and a tiny top-p are greedy; each stop reason ends where it should.
 * Loaded from a checkpoint, the generator refuses a KV cache that does not fit beside the engine before allocating
 * anything, and generates as the in-memory model does.
 */
class GeneratorTest {

    private static final ModelConfig TINY = TestConfigs.tinyWithClearRouting();
    private static final long WEIGHTS = 21;

    private static List<int[]> prompts() {
        int[] text = CorpusBytes.batch("en_fortunes.jsonl", 1, 40);
        return List.of(Arrays.copyOf(text, 12), Arrays.copyOfRange(text, 3, 4),
                CorpusBytes.batch("zh_poetry_fortunes.jsonl", 1, 25), Arrays.copyOfRange(text, 10, 40));
    }

    private static Generator generator(int batchSize, int prefillTokens) {
        TrainingEngine engine = TrainingEngine.createForInference(TINY, TrainConfig.forInference(1), new CpuBackend(2));
        engine.model().initialize(WEIGHTS);
        return new Generator(engine, batchSize, prefillTokens);
    }

    private static List<Completion> run(int batchSize, Function<int[], GenerationConfig> config) {
        try (Generator g = generator(batchSize, 16)) {
            List<GenerationRequest> requests = new ArrayList<>();
            for (int[] p : prompts()) {
                requests.add(new GenerationRequest(p, config.apply(p)));
            }
            return g.generate(requests);
        }
    }

    private static GenerationConfig sampling(long seed, int topK, double topP) {
        return new GenerationConfig(12, 1.0, topK, topP, seed, -1);
    }

    @Test
    void greedyWithTheCacheEqualsGreedyByFullForwards() {
        List<Completion> cached = run(3, p -> GenerationConfig.greedy(15, -1));
        try (CpuBackend backend = new CpuBackend(2)) {
            DeepSeekMoeModel full = new DeepSeekMoeModel(TINY, backend, TINY.maxSeqLen());
            full.initialize(WEIGHTS);
            List<int[]> prompts = prompts();
            for (int i = 0; i < prompts.size(); i++) {
                int[] expected = FullForwardGreedy.continuation(full, prompts.get(i), 15);
                assertArrayEquals(expected, cached.get(i).tokens(), "prompt " + i);
                assertEquals(StopReason.MAX_NEW_TOKENS, cached.get(i).stop());
            }
        }
    }

    @Test
    void samplingIsReproduciblePerSeedWhateverTheBatchAndDiffersBetweenSeeds() {
        List<Completion> a = run(4, p -> sampling(7, 0, 1));
        List<Completion> again = run(1, p -> sampling(7, 0, 1));
        List<Completion> other = run(2, p -> sampling(8, 0, 1));
        boolean anyDiffers = false;
        for (int i = 0; i < a.size(); i++) {
            assertArrayEquals(a.get(i).tokens(), again.get(i).tokens(), "prompt " + i + ", seed 7, batch 4 vs 1");
            anyDiffers |= !Arrays.equals(a.get(i).tokens(), other.get(i).tokens());
        }
        assertTrue(anyDiffers, "seeds 7 and 8 sampled the same tokens for every prompt");
        List<Completion> greedy = run(4, p -> GenerationConfig.greedy(12, -1));
        assertFalse(Arrays.equals(a.get(0).tokens(), greedy.get(0).tokens()), "sampling at temperature 1 is greedy");
    }

    @Test
    void topKOneAndATinyTopPAreGreedy() {
        List<Completion> greedy = run(4, p -> GenerationConfig.greedy(12, -1));
        List<Completion> topK1 = run(4, p -> sampling(3, 1, 1));
        List<Completion> tinyTopP = run(4, p -> sampling(4, 0, 1e-9));
        List<Completion> bothCuts = run(4, p -> new GenerationConfig(12, 2.5, 40, 1e-9, 5, -1));
        for (int i = 0; i < greedy.size(); i++) {
            assertArrayEquals(greedy.get(i).tokens(), topK1.get(i).tokens(), "top-k 1, prompt " + i);
            assertArrayEquals(greedy.get(i).tokens(), tinyTopP.get(i).tokens(), "top-p 1e-9, prompt " + i);
            assertArrayEquals(greedy.get(i).tokens(), bothCuts.get(i).tokens(), "top-k 40 + top-p 1e-9, prompt " + i);
        }
    }

    @Test
    void eachStopReasonEndsWhereItShould() {
        int context = TINY.maxSeqLen();
        int[] text = CorpusBytes.batch("en_wikitext.jsonl", 1, context);
        int[] nearlyFull = Arrays.copyOf(text, context - 3);
        int[] prompt = Arrays.copyOf(text, 9);
        try (Generator g = generator(2, 8)) {
            int[] greedy = g.generate(List.of(new GenerationRequest(prompt, GenerationConfig.greedy(6, -1))))
                    .getFirst().tokens();
            int eos = greedy[3];
            int firstEos = 0;
            while (greedy[firstEos] != eos) {
                firstEos++;
            }
            List<Completion> out = g.generate(List.of(
                    new GenerationRequest(prompt, GenerationConfig.greedy(6, eos)),
                    new GenerationRequest(nearlyFull, GenerationConfig.greedy(10, -1)),
                    new GenerationRequest(prompt, GenerationConfig.greedy(2, -1))));
            assertEquals(StopReason.EOS, out.get(0).stop());
            assertArrayEquals(Arrays.copyOf(greedy, firstEos + 1), out.get(0).tokens(), "ends with the EOS id");
            assertEquals(StopReason.CONTEXT, out.get(1).stop());
            assertEquals(3, out.get(1).tokens().length, "prompt and completion fill the context of " + context);
            assertEquals(StopReason.MAX_NEW_TOKENS, out.get(2).stop());
            assertArrayEquals(Arrays.copyOf(greedy, 2), out.get(2).tokens());

            IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                    () -> g.checkPrompt(Arrays.copyOf(text, context)));
            assertTrue(tooLong.getMessage().contains("context is " + context), tooLong.getMessage());
            assertThrows(IllegalArgumentException.class, () -> g.checkPrompt(new int[0]));
            assertThrows(IllegalArgumentException.class, () -> g.checkPrompt(new int[] {1, 256}));
        }
    }

    @Test
    void loadingRefusesACacheThatDoesNotFitBesideTheEngineAndNamesTheBatchSizeThatDoes(@TempDir Path dir)
            throws Exception {
        Checkpoints.saveModel(TINY, ParameterInit.initialValues(TINY, WEIGHTS), dir, Safetensors.Dtype.F32);
        long engine;
        try (CpuBackend sizing = new CpuBackend(1)) {
            engine = MemoryEstimate.of(TINY, 1, false, sizing).totalBytes();
        }
        long perPrompt = KvCache.bytes(TINY.numLayers(), 1, TINY.maxSeqLen(), TINY.hiddenSize());
        long limit = engine + perPrompt * 5 / 2;
        CpuBackend tight = new CpuBackend(1, limit);
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Generator.load(CheckpointFiles.local(dir), tight, 4, 16));
        assertEquals(0, tight.allocatedBytes(), "refused before anything was allocated");
        assertTrue(refused.getMessage().contains("batch-size=4") && refused.getMessage().contains("batch-size=2 fits"),
                refused.getMessage());

        List<GenerationRequest> requests = prompts().stream()
                .map(p -> new GenerationRequest(p, GenerationConfig.greedy(8, -1))).toList();
        List<Completion> loaded;
        try (Generator g = Generator.load(CheckpointFiles.local(dir), new CpuBackend(1, limit), 2, 16)) {
            loaded = g.generate(requests);
        }
        List<Completion> inMemory;
        try (Generator g = generator(2, 16)) {
            inMemory = g.generate(requests);
        }
        for (int i = 0; i < requests.size(); i++) {
            assertArrayEquals(inMemory.get(i).tokens(), loaded.get(i).tokens(), "prompt " + i + " from the checkpoint");
        }
    }
}
