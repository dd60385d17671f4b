package org.sparkmoe.model.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Real corpus text from {@code ../shared/corpus} as byte-level token ids (vocabulary 256): a stand-in for token
 * shards in moe-model's tests, which must not depend on the Spark-side shard reader.
 */
public final class CorpusBytes {

    private CorpusBytes() {
    }

    public static Path shared() {
        String configured = System.getProperty("sparkmoe.shared");
        Path root = (configured != null ? Path.of(configured) : Path.of("..", "..", "shared")).toAbsolutePath()
                .normalize();
        if (!Files.isDirectory(root.resolve("corpus"))) {
            throw new IllegalStateException("test data not found at " + root + ": set -Dsparkmoe.shared=PATH");
        }
        return root;
    }

    /** {@code batch} rows of {@code seqLenPlusOne} UTF-8 bytes of consecutive text of {@code file} (train split). */
    public static int[] batch(String file, int batch, int seqLenPlusOne) {
        int need = batch * seqLenPlusOne;
        int[] out = new int[need];
        int filled = 0;
        ObjectMapper json = new ObjectMapper();
        try (BufferedReader reader = Files.newBufferedReader(shared().resolve("corpus/train").resolve(file),
                StandardCharsets.UTF_8)) {
            String line;
            while (filled < need && (line = reader.readLine()) != null) {
                byte[] bytes = json.readTree(line).get("text").asText().getBytes(StandardCharsets.UTF_8);
                for (int i = 0; i < bytes.length && filled < need; i++) {
                    out[filled++] = bytes[i] & 0xff;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (filled < need) {
            throw new IllegalStateException(file + " has fewer than " + need + " bytes");
        }
        return out;
    }
}
