package org.sparkmoe.jobs.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The sample corpus the demo reads by default ({@code conf/sample-corpus/}) against its {@code NOTICE.md}: the same
 * files, the same sources with the same document counts, licences only of the kinds that may be shipped (their
 * terms carried in the folder), and small enough to live in the repository.
 */
class SampleCorpusTest {

    private static final Path DIR = Path.of(System.getProperty("sparkmoe.repo", "..")).resolve("conf/sample-corpus");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** {@code | file.jsonl | `source` | licence | documents | what |} */
    private static final Pattern ROW = Pattern.compile(
            "^\\| (\\S+\\.jsonl) \\| `([^`]+)` \\| ([^|]+?) \\| (\\d+) \\| [^|]+ \\|$");
    private static final List<String> SHIPPABLE = List.of("public domain", "not subject to copyright",
            "PSF-2.0 (`LICENSE-Python.txt`)", "MIT (`LICENSE-chinese-poetry.txt`)");
    private static final long MAX_BYTES = 4L << 20;

    @Test
    void filesSourcesAndCountsMatchTheNotice() throws IOException {
        Map<String, Map<String, Integer>> notice = new TreeMap<>();
        for (String line : Files.readAllLines(DIR.resolve("NOTICE.md"), StandardCharsets.UTF_8)) {
            Matcher m = ROW.matcher(line);
            if (line.startsWith("| ") && line.contains(".jsonl |")) {
                assertTrue(m.matches(), "NOTICE.md row not in the table's form: " + line);
                assertTrue(SHIPPABLE.contains(m.group(3)), "licence '" + m.group(3) + "' of " + m.group(2)
                        + " is none of " + SHIPPABLE);
                Integer earlier = notice.computeIfAbsent(m.group(1), f -> new TreeMap<>())
                        .put(m.group(2), Integer.parseInt(m.group(4)));
                assertEquals(null, earlier, "NOTICE.md lists " + m.group(2) + " twice for " + m.group(1));
            }
        }
        assertFalse(notice.isEmpty(), "NOTICE.md has no table rows");

        Map<String, Map<String, Integer>> found = new TreeMap<>();
        Set<String> ids = new HashSet<>();
        try (Stream<Path> files = Files.list(DIR)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".jsonl")).sorted().toList()) {
                Map<String, Integer> sources = found.computeIfAbsent(file.getFileName().toString(), f -> new TreeMap<>());
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    JsonNode doc = JSON.readTree(line);
                    for (String field : List.of("id", "source", "lang_hint", "text")) {
                        assertTrue(doc.hasNonNull(field), file.getFileName() + ": a document has no " + field);
                    }
                    assertTrue(ids.add(doc.get("id").asText()), "id " + doc.get("id").asText() + " occurs twice");
                    sources.merge(doc.get("source").asText(), 1, Integer::sum);
                }
            }
        }
        assertEquals(notice, found, "conf/sample-corpus/*.jsonl (documents per source) against NOTICE.md's table");
    }

    @Test
    void licenceTermsAreCarriedAndTheSampleStaysSmall() throws IOException {
        assertTrue(Files.isRegularFile(DIR.resolve("LICENSE-Python.txt")), "PSF-2.0 terms missing");
        assertTrue(Files.isRegularFile(DIR.resolve("LICENSE-chinese-poetry.txt")), "MIT terms missing");
        long bytes;
        try (Stream<Path> files = Files.list(DIR)) {
            bytes = files.mapToLong(p -> p.toFile().length()).sum();
        }
        assertTrue(bytes <= MAX_BYTES, "conf/sample-corpus holds " + bytes + " bytes; keep it under " + MAX_BYTES);
    }
}
