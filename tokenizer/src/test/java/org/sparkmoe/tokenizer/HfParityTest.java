package org.sparkmoe.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.tokenizer.testing.TestCorpus;
import org.sparkmoe.tokenizer.testing.TrainedTokenizers;

/**
 * Our encoder against HF tokenizers itself (the Rust library bundled in DJL, loaded from the jar, no network) on
 * every document of the train and validation corpus, for DeepSeek-V3's tokenizer.json and for one trained here
 * (which also proves HF accepts the tokenizer.json we write).
 */
class HfParityTest {

    private static final int BATCH = 512;
    private static List<String> documents;

    @BeforeAll
    static void readCorpus() {
        documents = new ArrayList<>(TestCorpus.texts("train"));
        documents.addAll(TestCorpus.texts("validation"));
    }

    @AfterAll
    static void release() {
        documents = null;
    }

    /** Asserts identical ids for every document; reports the first few differences with their pieces. */
    static void assertSameIdsAsHf(Path tokenizerJson, Tokenizer ours, List<String> texts, boolean addSpecial)
            throws IOException {
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson)
                .optAddSpecialTokens(addSpecial).optTruncation(false).optPadding(false).build()) {
            List<String> mismatches = new ArrayList<>();
            long tokens = 0;
            // HF encodes a batch on all cores (Rust threads), which keeps this whole-corpus check affordable.
            for (int from = 0; from < texts.size(); from += BATCH) {
                List<String> batch = texts.subList(from, Math.min(texts.size(), from + BATCH));
                Encoding[] expectedBatch = hf.batchEncode(batch);
                for (int i = 0; i < batch.size(); i++) {
                    long[] expected = expectedBatch[i].getIds();
                    int[] actual = ours.encode(batch.get(i), addSpecial);
                    tokens += expected.length;
                    if (!Arrays.equals(Arrays.stream(actual).asLongStream().toArray(), expected)) {
                        mismatches.add(firstDifference(batch.get(i), expected, actual, ours));
                    }
                }
            }
            if (!mismatches.isEmpty()) {
                fail(mismatches.size() + " of " + texts.size() + " documents differ; first: "
                        + String.join("\n", mismatches.subList(0, Math.min(5, mismatches.size()))));
            }
            assertEquals(true, tokens > 0);
        }
    }

    private static String firstDifference(String text, long[] expected, int[] actual, Tokenizer ours) {
        int i = 0;
        while (i < Math.min(expected.length, actual.length) && expected[i] == actual[i]) {
            i++;
        }
        int from = Math.max(0, i - 3);
        StringBuilder sb = new StringBuilder("at token " + i + ": hf [");
        for (int k = from; k < Math.min(expected.length, i + 4); k++) {
            sb.append(ours.idToken((int) expected[k])).append(' ');
        }
        sb.append("] ours [");
        for (int k = from; k < Math.min(actual.length, i + 4); k++) {
            sb.append(ours.idToken(actual[k])).append(' ');
        }
        return sb.append("] in text starting '").append(text, 0, Math.min(60, text.length())).append("'").toString();
    }

    @Test
    void deepseekV3GivesHfIdsOnWholeCorpus() throws IOException {
        Tokenizer ours = Tokenizer.load(TestCorpus.deepseekV3());
        assertSameIdsAsHf(TestCorpus.deepseekV3(), ours, documents, false);
    }

    @Test
    void trainedTokenizerLoadsInHfAndGivesTheSameIdsOnWholeCorpus(@TempDir Path dir) throws IOException {
        Tokenizer trained = TrainedTokenizers.small();
        Path json = Files.writeString(dir.resolve("tokenizer.json"), trained.toJson());
        assertSameIdsAsHf(json, Tokenizer.load(json), documents, false);
        assertSameIdsAsHf(json, trained, documents.subList(0, 300), true);
    }

    @Test
    void deepseekV3SpecialTokensMatchHfPostProcessor() throws IOException {
        Tokenizer ours = Tokenizer.load(TestCorpus.deepseekV3());
        assertSameIdsAsHf(TestCorpus.deepseekV3(), ours, documents.subList(0, 200), true);
    }
}
