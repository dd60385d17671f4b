package org.sparkmoe.jobs.prepare;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.testing.SharedData;

/** MinHash estimates Jaccard similarity, and banding has the S-curve the docs quote. */
class MinHashTest {

    private final MinHashSignature minHash = new MinHashSignature(5, 14 * 8, 20240520L);

    @Test
    void estimateTracksExactJaccardOnRealText() throws Exception {
        Map<String, String> texts = new HashMap<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(SharedData.trainCorpus().resolve("en_gutenberg.jsonl"))) {
            JsonNode doc = json.readTree(line);
            String id = doc.get("id").asText();
            if (id.startsWith("gutenberg-1342-1342-")) {
                texts.put(id, doc.get("text").asText());
            }
        }
        // Two editions of one chapter (curly vs straight quotes), then two different chapters.
        assertClose(texts.get("gutenberg-1342-1342-0-p000"), texts.get("gutenberg-1342-1342-p000"));
        assertClose(texts.get("gutenberg-1342-1342-0-p010"), texts.get("gutenberg-1342-1342-p011"));
        double editions = MinHashSignature.estimatedJaccard(minHash.of(texts.get("gutenberg-1342-1342-0-p005")),
                minHash.of(texts.get("gutenberg-1342-1342-p005")));
        assertTrue(editions > 0.9, "editions of chapter 5: " + editions);
    }

    private void assertClose(String a, String b) {
        double exact = exactJaccard(a, b);
        double estimate = MinHashSignature.estimatedJaccard(minHash.of(a), minHash.of(b));
        // 112 slots: the standard error is at most 0.5/sqrt(112) = 0.047.
        assertEquals(exact, estimate, 0.15, "exact " + exact + " estimate " + estimate);
    }

    private static double exactJaccard(String a, String b) {
        Set<Long> x = set(MinHashSignature.shingles(DedupText.tokenHashes(a), 5));
        Set<Long> y = set(MinHashSignature.shingles(DedupText.tokenHashes(b), 5));
        Set<Long> inter = new HashSet<>(x);
        inter.retainAll(y);
        Set<Long> union = new HashSet<>(x);
        union.addAll(y);
        return (double) inter.size() / union.size();
    }

    private static Set<Long> set(long[] values) {
        Set<Long> s = new HashSet<>();
        for (long v : values) {
            s.add(v);
        }
        return s;
    }

    @Test
    void traditionalAndSimplifiedHanGiveTheSameTokens() {
        assertEquals(java.util.Arrays.toString(DedupText.tokenHashes("顯示說明資訊")),
                java.util.Arrays.toString(DedupText.tokenHashes("显示说明资讯")));
    }

    @Test
    void bandingFollowsTheSCurve() {
        LshBands lsh = new LshBands(14, 8);
        // FineWeb's 14 bands of 8 rows and the catch rates its write-up reports (HuggingFaceFW/blogpost-fineweb-v1).
        assertEquals(0.57, lsh.candidateProbability(0.7), 0.01);
        assertEquals(0.92, lsh.candidateProbability(0.8), 0.01);
        assertEquals(0.05, lsh.candidateProbability(0.5), 0.01);
        byte[] sig = minHash.of("the same text gives the same band keys every time");
        assertEquals(java.util.Arrays.toString(lsh.keys(sig)), java.util.Arrays.toString(lsh.keys(sig.clone())));
    }
}
