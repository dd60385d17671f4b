package org.sparkmoe.model.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.generate.Completion;
import org.sparkmoe.model.generate.Generator;
import org.sparkmoe.model.testing.FullForwardGreedy;
import org.sparkmoe.model.testing.GenerateFixture;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Our greedy decoding equals the PyTorch reference implementation's on the same weights: the tiny DeepSeekMoE of
 * {@code reference/} continued from fixed prompts by {@code src/test/python/make_generate_reference.py} (full
 * forwards, {@code torch.argmax}; {@link GenerateFixture}), against our {@link Generator} (prefill and decode through
 * the KV cache, all prompts in one batch) and against our full forwards without a cache. Skipped, naming the script,
 * until the fixture exists.
 */
class GenerateReferenceTest {

    @Test
    void greedyDecodingWithAndWithoutTheKvCacheEqualsPyTorch() throws Exception {
        Optional<GenerateFixture> found = GenerateFixture.load();
        assumeTrue(found.isPresent(), "no " + GenerateFixture.RESOURCE + " yet: produce it on a machine with PyTorch"
                + " with `" + GenerateFixture.PRODUCE + "`, then commit it");
        GenerateFixture fixture = found.get();
        Path dir = GenerateFixture.modelDirectory();
        // A micro-batch of one whole sequence, so the full forwards without a cache fit too.
        TrainingEngine engine = Checkpoints.loadForInference(dir, TrainConfig.forInference(1), new CpuBackend(2));
        DeepSeekMoeModel model = engine.model();
        try (Generator generator = new Generator(engine, fixture.prompts().size(), model.maxRows())) {
            List<Completion> cached = generator.generate(fixture.greedyRequests());
            for (int i = 0; i < cached.size(); i++) {
                int[] expected = fixture.generated().get(i);
                assertArrayEquals(expected, cached.get(i).tokens(), "with the KV cache, " + fixture.describe(i));
                assertArrayEquals(expected, FullForwardGreedy.continuation(model, fixture.prompts().get(i),
                        expected.length), "without a cache, " + fixture.describe(i));
            }
        }
    }
}
