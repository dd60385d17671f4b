package org.sparkmoe.notebooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.SharedData;

/** The corpus explorer on real corpus files, checked against a plain Jackson pass over the same files. */
class CorpusExplorerTest {

    private static final List<String> FILES = List.of("zh_laws.jsonl", "en_wikitext.jsonl", "code.jsonl");
    private static CorpusExplorer explorer;
    private static Map<String, List<Integer>> expectedLengths;

    @BeforeAll
    static void load() throws IOException {
        Path train = SharedData.trainCorpus();
        String glob = train.toUri() + "{" + String.join(",", FILES) + "}";
        explorer = CorpusExplorer.rawJsonl(LocalSpark.get(), glob);
        ObjectMapper json = new ObjectMapper();
        expectedLengths = new TreeMap<>();
        for (String file : FILES) {
            for (String line : Files.readAllLines(train.resolve(file))) {
                JsonNode doc = json.readTree(line);
                String text = doc.get("text").asText();
                expectedLengths.computeIfAbsent(doc.get("lang_hint").asText(), k -> new ArrayList<>())
                        .add(text.codePointCount(0, text.length()));
            }
        }
    }

    @Test
    void countsDocumentsAndCharactersPerLanguage() {
        Map<String, Long> docs = explorer.documentsByLanguage();
        Map<String, Long> chars = explorer.charactersByLanguage();
        assertEquals(expectedLengths.keySet(), new java.util.TreeSet<>(docs.keySet()));
        expectedLengths.forEach((lang, lengths) -> {
            assertEquals(lengths.size(), docs.get(lang), lang + " documents");
            assertEquals(lengths.stream().mapToLong(Integer::longValue).sum(), chars.get(lang), lang + " characters");
        });
        List<Long> order = new ArrayList<>(docs.values());
        for (int i = 1; i < order.size(); i++) {
            assertTrue(order.get(i - 1) >= order.get(i), "largest first: " + docs);
        }
    }

    @Test
    void lengthQuantilesMatchTheDocuments() {
        Map<String, LengthSummary> summary = explorer.lengthSummary();
        expectedLengths.forEach((lang, lengths) -> {
            List<Integer> sorted = lengths.stream().sorted().toList();
            LengthSummary s = summary.get(lang);
            assertEquals(sorted.size(), s.documents());
            assertEquals(sorted.getFirst(), (int) s.min());
            assertEquals(sorted.getLast(), (int) s.max());
            assertEquals(sorted.get((int) Math.ceil(0.5 * sorted.size()) - 1), (int) s.p50(), lang + " median");
        });
    }

    @Test
    void samplesAreDeterministicAndOfTheLanguage() {
        List<String> a = explorer.sample("zh", 3, 7, 80);
        assertEquals(a, explorer.sample("zh", 3, 7, 80));
        assertEquals(3, a.size());
        assertTrue(a.stream().allMatch(s -> s.startsWith("lawrefbook-")), a.toString());
    }

    @Test
    void chartsRender() throws Exception {
        ChartImages.assertChart(explorer.languageMixChart(), "language mix");
        ChartImages.assertChart(explorer.lengthChart(), "length histogram");
        assertTrue(explorer.rejectedByReason().isEmpty(), "a raw corpus has no rejections");
    }
}
