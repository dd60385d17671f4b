package org.sparkmoe.tokenizer.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The read-only corpus and tokenizers beside the repository ({@code ../shared}), located through the
 * {@code sparkmoe.shared} system property that surefire sets. Tests read it in place.
 */
public final class TestCorpus {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private TestCorpus() {}

    public static Path root() {
        String configured = System.getProperty("sparkmoe.shared");
        Path root = (configured != null ? Path.of(configured) : Path.of("..", "..", "shared")).toAbsolutePath()
                .normalize();
        if (!Files.isDirectory(root.resolve("corpus"))) {
            throw new IllegalStateException("test data not found at " + root
                    + ": the repository expects ../shared (corpus/, tokenizers/) beside it; set -Dsparkmoe.shared=PATH");
        }
        return root;
    }

    public static Path deepseekV3() {
        return root().resolve("tokenizers/deepseek-v3/tokenizer.json");
    }

    /** Every {@code .jsonl} file of {@code corpus/<split>} ({@code train} or {@code validation}), sorted. */
    public static List<Path> files(String split) {
        try (Stream<Path> s = Files.list(root().resolve("corpus").resolve(split))) {
            return s.filter(p -> p.toString().endsWith(".jsonl")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The {@code text} field of every document of one file. */
    public static List<String> texts(Path jsonl) {
        List<String> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(jsonl, StandardCharsets.UTF_8)) {
            for (String line; (line = r.readLine()) != null; ) {
                if (!line.isBlank()) {
                    JsonNode doc = MAPPER.readTree(line);
                    out.add(doc.get("text").asText());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Every text of a split. */
    public static List<String> texts(String split) {
        List<String> out = new ArrayList<>();
        files(split).forEach(f -> out.addAll(texts(f)));
        return out;
    }
}
