package org.sparkmoe.model.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.generate.Completion;
import org.sparkmoe.model.generate.GenerationConfig;
import org.sparkmoe.model.generate.GenerationRequest;
import org.sparkmoe.model.generate.Generator;
import org.sparkmoe.model.testing.FullForwardGreedy;

/**
 * Our greedy decoding equals the PyTorch reference implementation's on the same weights: the tiny DeepSeekMoE of
 * {@code reference/} continued from fixed prompts by {@code src/test/python/make_generate_reference.py} (full
 * forwards, {@code torch.argmax}), against our {@link Generator} (prefill and decode through the KV cache, all prompts
 * in one batch) and against our full forwards without a cache. Skipped, naming the script, until its fixture
 * {@code reference/generate.json} exists.
 */
class GenerateReferenceTest {

    static final String FIXTURE = "/reference/generate.json";
    static final String PRODUCE = "python3 moe-model/src/test/python/make_generate_reference.py"
            + " moe-model/src/test/resources/reference";

    @Test
    void greedyDecodingWithAndWithoutTheKvCacheEqualsPyTorch() throws Exception {
        URL fixture = GenerateReferenceTest.class.getResource(FIXTURE);
        assumeTrue(fixture != null, "no " + FIXTURE + " yet: produce it on a machine with PyTorch with `" + PRODUCE
                + "`, then commit it");
        JsonNode cases;
        try (InputStream in = fixture.openStream()) {
            cases = new ObjectMapper().readTree(in).get("cases");
        }
        assertFalse(cases.isEmpty(), FIXTURE + " holds no cases");
        List<int[]> prompts = new ArrayList<>();
        List<int[]> expected = new ArrayList<>();
        List<GenerationRequest> requests = new ArrayList<>();
        for (JsonNode c : cases) {
            int[] prompt = ids(c.get("prompt"));
            int[] generated = ids(c.get("generated"));
            prompts.add(prompt);
            expected.add(generated);
            requests.add(new GenerationRequest(prompt, GenerationConfig.greedy(generated.length, -1)));
        }
        Path dir = Path.of(GenerateReferenceTest.class.getResource("/reference/config.json").toURI()).getParent();

        CpuBackend backend = new CpuBackend(2);
        DeepSeekMoeModel model = Checkpoints.loadForInference(dir, backend, 16);
        try (Generator generator = new Generator(model, backend, requests.size())) {
            List<Completion> cached = generator.generate(requests);
            for (int i = 0; i < requests.size(); i++) {
                String which = "prompt " + java.util.Arrays.toString(prompts.get(i)) + " (the reference's closest call: "
                        + cases.get(i).get("min_margin").asDouble() + " between the best two logits)";
                assertArrayEquals(expected.get(i), cached.get(i).tokens(), "with the KV cache, " + which);
                assertArrayEquals(expected.get(i), FullForwardGreedy.continuation(model, prompts.get(i),
                        expected.get(i).length), "without a cache, " + which);
            }
        }
    }

    private static int[] ids(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
