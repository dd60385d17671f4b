package org.sparkmoe.jobs.prepare;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * The prepare job end to end on real corpus text in HDFS. The input is a subset of ../shared/corpus/train that
 * holds every record whose text occurs more than once in train (so every exact duplicate of the corpus), both
 * Pride and Prejudice editions, all zh_CN and zh_TW man pages, and every 40th other record; it is written as three
 * files, read with a brace glob ({@code subset-{a,b}.jsonl}, beside a file it must not match) and a file name with
 * a comma, in 1 MB splits so that lines cross split boundaries. The expectations are derived
 * here from the raw JSONL, independently of the job's code.
 */
class PrepareJobTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static MiniHdfs hdfs;
    private static SparkSession spark;
    /** id → input record, for every record of the subset. */
    private static final Map<String, JsonNode> INPUT = new HashMap<>();
    /** Groups of ids whose raw text is byte-identical. */
    private static final List<List<String>> EXACT_GROUPS = new ArrayList<>();
    private static Map<String, Row> kept;
    private static Map<String, Row> rejected;
    private static JsonNode report;
    private static long inputBytes;

    @BeforeAll
    static void runJobOnCorpusSubset() throws Exception {
        hdfs = MiniHdfs.start();
        spark = LocalSpark.get();
        List<String> lines = new ArrayList<>();
        Map<String, List<String>> idsByText = new HashMap<>();
        List<String[]> all = new ArrayList<>();
        try (Stream<Path> files = Files.list(SharedData.trainCorpus())) {
            for (Path f : files.sorted().toList()) {
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    JsonNode doc = JSON.readTree(line);
                    idsByText.computeIfAbsent(doc.get("text").asText(), k -> new ArrayList<>()).add(doc.get("id").asText());
                    all.add(new String[] {doc.get("id").asText(), line, doc.get("text").asText()});
                }
            }
        }
        Set<String> duplicated = new HashSet<>();
        idsByText.values().stream().filter(ids -> ids.size() > 1).forEach(ids -> {
            EXACT_GROUPS.add(ids);
            duplicated.addAll(ids);
        });
        for (int i = 0; i < all.size(); i++) {
            String id = all.get(i)[0];
            if (duplicated.contains(id) || id.startsWith("gutenberg-1342-") || id.startsWith("manpages-zh-")
                    || i % 40 == 0) {
                lines.add(all.get(i)[1]);
                inputBytes += all.get(i)[1].getBytes(StandardCharsets.UTF_8).length;
                INPUT.put(id, JSON.readTree(all.get(i)[1]));
            }
        }
        FileSystem fs = hdfs.fileSystem();
        int third = lines.size() / 3;
        write(fs, "/corpus/subset-a.jsonl", lines.subList(0, third));
        write(fs, "/corpus/subset-b.jsonl", lines.subList(third, 2 * third));
        write(fs, "/corpus/extra/subset,c.jsonl", lines.subList(2 * third, lines.size()));
        write(fs, "/corpus/subset-z.jsonl", List.of("{\"id\": \"not-an-input\", \"text\": \"outside the glob\"}"));

        // A brace glob and a file name with a comma: each --input is one value, commas included.
        int status = SparkMoeMain.run("prepare", "--input", hdfs.uri("/corpus/subset-{a,b}.jsonl"),
                "--input", hdfs.uri("/corpus/extra/subset,c.jsonl"),
                "--output", hdfs.uri("/prepared"), "--input.split-bytes", "1000000", "--output.partitions", "2");
        assertEquals(0, status, "prepare exit status");
        kept = byId(spark.read().parquet(hdfs.uri("/prepared/kept")).collectAsList());
        rejected = byId(spark.read().parquet(hdfs.uri("/prepared/rejected")).collectAsList());
        try (InputStream in = fs.open(new org.apache.hadoop.fs.Path("/prepared/report.json"))) {
            report = JSON.readTree(in);
        }
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    @Test
    void everyInputRecordIsInExactlyOneOfKeptAndRejected() {
        Set<String> both = new HashSet<>(kept.keySet());
        both.retainAll(rejected.keySet());
        assertTrue(both.isEmpty(), "in kept and rejected: " + both);
        Set<String> out = new HashSet<>(kept.keySet());
        out.addAll(rejected.keySet());
        assertEquals(INPUT.keySet(), out);
        assertEquals(INPUT.size(), report.get("records_in").asLong());
        assertEquals(kept.size(), report.get("records_kept").asLong());
        assertEquals(rejected.size(), report.get("records_rejected").asLong());
        long byReason = 0;
        for (JsonNode n : report.get("rejected_by_reason")) {
            byReason += n.asLong();
        }
        assertEquals(rejected.size(), byReason);
        long byLang = 0;
        for (JsonNode n : report.get("kept_by_lang")) {
            byLang += n.asLong();
        }
        assertEquals(kept.size(), byLang);
        assertEquals(inputBytes, report.get("bytes_in").asLong(), "bytes_in: the input lines' bytes");
        assertEquals(List.of(hdfs.uri("/corpus/subset-{a,b}.jsonl"), hdfs.uri("/corpus/extra/subset,c.jsonl")),
                JSON.convertValue(report.get("inputs"), List.class), "the --input values, each whole");
        List<String> inputFiles = new ArrayList<>();
        report.get("input_files").forEach(f -> inputFiles.add(new org.apache.hadoop.fs.Path(f.asText()).getName()));
        assertEquals(List.of("subset,c.jsonl", "subset-a.jsonl", "subset-b.jsonl"), inputFiles.stream().sorted().toList());
    }

    @Test
    void everyExactDuplicateOfTheCorpusIsCaught() {
        int groupsRemovedByExactDedup = 0;
        for (List<String> group : EXACT_GROUPS) {
            long keptCount = group.stream().filter(kept::containsKey).count();
            assertTrue(keptCount <= 1, "more than one copy kept of " + group);
            if (group.stream().anyMatch(id -> rejected.containsKey(id)
                    && PrepareSchema.STAGE_EXACT_DEDUP.equals(rejected.get(id).getAs(PrepareSchema.STAGE)))) {
                groupsRemovedByExactDedup++;
            }
        }
        // SOURCES.md: 86 groups of byte-identical texts in train.
        assertEquals(86, EXACT_GROUPS.size());
        assertTrue(groupsRemovedByExactDedup > 20, "exact dedup removed copies in " + groupsRemovedByExactDedup + " groups");
    }

    @Test
    void prideAndPrejudiceEditionsAreGrouped() {
        int grouped = 0;
        for (int part = 0; part < 61; part++) {
            String utf8 = String.format("gutenberg-1342-1342-0-p%03d", part);
            String ascii = String.format("gutenberg-1342-1342-p%03d", part);
            assertFalse(kept.containsKey(utf8) && kept.containsKey(ascii), "both editions kept: " + ascii);
            if (duplicateOf(utf8, ascii) || duplicateOf(ascii, utf8)) {
                grouped++;
            }
        }
        assertTrue(grouped >= 55, "edition pairs grouped: " + grouped + " of 61");
    }

    @Test
    void simplifiedAndTraditionalManPagesAreGrouped() {
        int pairs = 0;
        int grouped = 0;
        for (String id : INPUT.keySet()) {
            if (!id.startsWith("manpages-zh-zh_TW-")) {
                continue;
            }
            String cn = id.replace("zh_TW", "zh_CN");
            if (!INPUT.containsKey(cn) || !reachedDedup(id) || !reachedDedup(cn)) {
                continue;
            }
            pairs++;
            if (duplicateOf(id, cn) || duplicateOf(cn, id)) {
                grouped++;
            }
        }
        assertTrue(pairs >= 10, "zh_CN/zh_TW pairs that reached dedup: " + pairs);
        // Separately edited translations: 3-token Jaccard 0.59..0.97 (NearDupTuning), so not every pair is caught.
        assertTrue(grouped >= 0.7 * pairs, "grouped " + grouped + " of " + pairs);
    }

    @Test
    void englishPagesWithAZhHintComeOutAsEnglish() {
        int checked = 0;
        for (List<String> group : EXACT_GROUPS) {
            boolean hasEnglishSource = group.stream().anyMatch(id -> "en".equals(INPUT.get(id).get("lang_hint").asText()));
            for (String id : group) {
                if (hasEnglishSource && "zh".equals(INPUT.get(id).get("lang_hint").asText())) {
                    Row r = kept.containsKey(id) ? kept.get(id) : rejected.get(id);
                    assertEquals("en", r.getAs(PrepareSchema.LANG), id);
                    checked++;
                }
            }
        }
        assertTrue(checked >= 5, "untranslated zh pages checked: " + checked);
    }

    @Test
    void keptDocumentsHaveTheContractColumns() {
        Row any = kept.values().iterator().next();
        for (String column : PrepareSchema.KEPT_COLUMNS) {
            any.fieldIndex(column);
        }
        assertTrue(kept.values().stream().allMatch(r -> Set.of("en", "zh", "code").contains(r.<String>getAs("lang"))));
    }

    /** True when {@code id} was rejected as a duplicate whose group is kept through {@code other}'s group. */
    private static boolean duplicateOf(String id, String other) {
        Row r = rejected.get(id);
        if (r == null || r.getAs(PrepareSchema.DUPLICATE_OF) == null) {
            return false;
        }
        String root = r.getAs(PrepareSchema.DUPLICATE_OF);
        if (root.equals(other)) {
            return true;
        }
        Row o = rejected.get(other);
        return o != null && root.equals(o.getAs(PrepareSchema.DUPLICATE_OF));
    }

    private static boolean reachedDedup(String id) {
        if (kept.containsKey(id)) {
            return true;
        }
        String stage = rejected.get(id).getAs(PrepareSchema.STAGE);
        return stage.equals(PrepareSchema.STAGE_EXACT_DEDUP) || stage.equals(PrepareSchema.STAGE_NEAR_DEDUP);
    }

    private static Map<String, Row> byId(List<Row> rows) {
        Map<String, Row> out = new HashMap<>();
        for (Row r : rows) {
            out.put(r.getAs(PrepareSchema.ID), r);
        }
        assertEquals(rows.size(), out.size(), "ids are unique");
        return out;
    }

    private static void write(FileSystem fs, String path, List<String> lines) throws Exception {
        try (OutputStream out = fs.create(new org.apache.hadoop.fs.Path(path), true)) {
            for (String line : lines) {
                out.write(line.getBytes(StandardCharsets.UTF_8));
                out.write('\n');
            }
        }
    }
}
