package org.sparkmoe.model.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.sparkmoe.model.generate.GenerationConfig;
import org.sparkmoe.model.generate.GenerationRequest;

/**
 * The PyTorch reference's greedy continuations of fixed prompts on the tiny DeepSeekMoE of {@code reference/}
 * ({@code reference/generate.json}, written by {@code src/test/python/make_generate_reference.py}).
 *
 * @param prompts    the prompts' token ids
 * @param generated  the reference's greedy continuation of each
 * @param margins    per prompt, the smallest gap between the best two logits over its steps (how near a tie it came)
 */
public record GenerateFixture(List<int[]> prompts, List<int[]> generated, double[] margins) {

    public static final String RESOURCE = "/reference/generate.json";
    /** The command, from the repository root, that writes the fixture. */
    public static final String PRODUCE = "python3 moe-model/src/test/python/make_generate_reference.py"
            + " moe-model/src/test/resources/reference";

    /** The fixture, or empty when it has not been produced yet. */
    public static Optional<GenerateFixture> load() {
        URL url = GenerateFixture.class.getResource(RESOURCE);
        if (url == null) {
            return Optional.empty();
        }
        try (InputStream in = url.openStream()) {
            JsonNode cases = new ObjectMapper().readTree(in).get("cases");
            List<int[]> prompts = new ArrayList<>();
            List<int[]> generated = new ArrayList<>();
            double[] margins = new double[cases.size()];
            for (int i = 0; i < cases.size(); i++) {
                prompts.add(ids(cases.get(i).get("prompt")));
                generated.add(ids(cases.get(i).get("generated")));
                margins[i] = cases.get(i).get("min_margin").asDouble();
            }
            return Optional.of(new GenerateFixture(prompts, generated, margins));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
    }

    /** The reference model's directory ({@code config.json}, {@code model.safetensors}). */
    public static Path modelDirectory() {
        try {
            return Path.of(GenerateFixture.class.getResource("/reference/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One greedy request per prompt for as many tokens as the reference generated, no EOS. */
    public List<GenerationRequest> greedyRequests() {
        List<GenerationRequest> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            out.add(new GenerationRequest(prompts.get(i), GenerationConfig.greedy(generated.get(i).length, -1)));
        }
        return out;
    }

    /** Names case {@code i} for an assertion message. */
    public String describe(int i) {
        return "prompt " + Arrays.toString(prompts.get(i)) + " (the reference's closest call: " + margins[i]
                + " between the best two logits)";
    }

    private static int[] ids(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
