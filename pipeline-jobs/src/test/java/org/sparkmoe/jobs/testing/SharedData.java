package org.sparkmoe.jobs.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The read-only test data beside the repository ({@code ../shared}: corpus, tokenizers). Tests read it in place
 * and never copy it into the repository.
 */
public final class SharedData {

    private SharedData() {}

    public static Path root() {
        String configured = System.getProperty("sparkmoe.shared");
        Path root = configured != null ? Path.of(configured) : Path.of("..", "..", "shared");
        root = root.toAbsolutePath().normalize();
        if (!Files.isDirectory(root.resolve("corpus"))) {
            throw new IllegalStateException("test data not found at " + root
                    + ": the repository expects ../shared (corpus/, tokenizers/) beside it; set -Dsparkmoe.shared=PATH");
        }
        return root;
    }

    public static Path trainCorpus() {
        return root().resolve("corpus/train");
    }

    public static Path validationCorpus() {
        return root().resolve("corpus/validation");
    }

    public static Path deepseekV3Tokenizer() {
        return root().resolve("tokenizers/deepseek-v3/tokenizer.json");
    }
}
