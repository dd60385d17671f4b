package org.sparkmoe.jobs.prepare;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * Bad inputs a real corpus has (broken and oversized records, invalid UTF-8, ...), built in HDFS next to real corpus
 * records: each is counted and rejected with its reason and the job finishes; bad command lines end at once with
 * status 2 and a message naming the problem; a rerun writes byte-identical output.
 */
class PrepareBadInputTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int FIFTY_MB = 50 * 1024 * 1024;

    private static MiniHdfs hdfs;
    private static FileSystem fs;
    private static List<String> goodIds;

    @BeforeAll
    static void writeInputs() throws Exception {
        hdfs = MiniHdfs.start();
        fs = hdfs.fileSystem();
        LocalSpark.get();
        List<String> wikitext = Files.readAllLines(SharedData.trainCorpus().resolve("en_wikitext.jsonl"));
        List<String> good = wikitext.subList(0, 6);
        goodIds = good.stream().map(l -> read(l).get("id").asText()).toList();

        ByteArrayOutputStream bad = new ByteArrayOutputStream();
        line(bad, "{\"id\": \"broken\", \"text\": \"an unterminated string");
        line(bad, "{\"id\": \"no-text\", \"source\": \"test\", \"body\": \"the text is under another field\"}");
        ObjectNode latin1 = JSON.createObjectNode().put("id", "latin1").put("text", "caf\u00e9 ");
        byte[] invalid = JSON.writeValueAsString(latin1).replace("caf\u00e9", "caf#").getBytes(StandardCharsets.UTF_8);
        invalid[indexOf(invalid, (byte) '#')] = (byte) 0xE9;  // é in Latin-1: not valid UTF-8
        bad.write(invalid);
        bad.write('\n');
        line(bad, "{\"id\": \"empty\", \"text\": \" \\r\\n\\t \\u001b[0m \"}");
        try (OutputStream out = fs.create(new Path("/in/bad.jsonl"))) {
            out.write(bad.toByteArray());
        }
        try (OutputStream out = fs.create(new Path("/in/huge.jsonl"))) {
            // One 50 MB line: a real document repeated, as one JSON record.
            String chapter = read(good.get(0)).get("text").asText();
            StringBuilder huge = new StringBuilder(FIFTY_MB + chapter.length());
            while (huge.length() < FIFTY_MB) {
                huge.append(chapter);
            }
            out.write(JSON.writeValueAsBytes(JSON.createObjectNode().put("id", "huge").put("text", huge.toString())));
            out.write('\n');
        }
        write("/in/good.jsonl", String.join("\n", good) + "\n");
        // A binary file among the text files: a gzip'd corpus file with a .jsonl name.
        try (OutputStream out = new GZIPOutputStream(fs.create(new Path("/in/packed.jsonl")))) {
            out.write(Files.readAllBytes(SharedData.trainCorpus().resolve("en_wikitext.jsonl")));
        }
        write("/in/notes.txt", read(wikitext.get(7)).get("text").asText());
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    @Test
    void badRecordsAreRejectedWithTheirReasonsAndTheJobFinishes() throws Exception {
        assertEquals(0, SparkMoeMain.run("prepare", "--input", hdfs.uri("/in"), "--output", hdfs.uri("/out/strict")));
        Map<String, Row> rejected = byId(hdfs.uri("/out/strict/rejected"));
        Map<String, Row> kept = byId(hdfs.uri("/out/strict/kept"));
        String bad = hdfs.uri("/in/bad.jsonl");
        assertReason(rejected, bad + "@0", "decode", "malformed_json");
        assertReason(rejected, "no-text", "decode", "missing_text");
        assertReason(rejected, "empty", "clean", "empty");
        assertReason(rejected, hdfs.uri("/in/packed.jsonl") + "@0", "decode", "binary_file");
        String latin1 = rejected.keySet().stream().filter(id -> id.startsWith(bad + "@")
                && "invalid_utf8".equals(rejected.get(id).getAs("reason"))).findFirst().orElseThrow();
        assertTrue(((String) rejected.get(latin1).getAs("text")).contains("caf\uFFFD"), "a sample of the record is kept");
        String huge = rejected.keySet().stream().filter(id -> "record_too_large".equals(rejected.get(id).getAs("reason")))
                .findFirst().orElseThrow();
        assertTrue((long) rejected.get(huge).getAs("bytes") > FIFTY_MB);
        for (String id : goodIds) {
            assertTrue(kept.containsKey(id) || rejected.containsKey(id), id);
        }
        String notes = hdfs.uri("/in/notes.txt");
        Row note = kept.containsKey(notes) ? kept.get(notes) : rejected.get(notes);
        assertTrue(note != null && !"decode".equals(note.getAs("stage")), "a plain-text file is one document");
        assertEquals(fs.getFileStatus(new Path("/in/notes.txt")).getLen(), (long) note.getAs("bytes"));

        JsonNode report = report("/out/strict");
        // 6 good records, notes.txt, the 4 lines of bad.jsonl, the 50 MB line, the binary file.
        assertEquals(goodIds.size() + 1 + 4 + 1 + 1, report.get("records_in").asLong());
        JsonNode reasons = report.get("rejected_by_reason");
        for (String reason : List.of("malformed_json", "missing_text", "invalid_utf8", "empty", "record_too_large",
                "binary_file")) {
            assertEquals(1, reasons.get(reason).asLong(), reason);
        }
    }

    @Test
    void repairPolicyKeepsInvalidUtf8RecordsWithReplacementCharacters() throws Exception {
        assertEquals(0, SparkMoeMain.run("prepare", "--input", hdfs.uri("/in/bad.jsonl"), "--output",
                hdfs.uri("/out/repair"), "--decode.invalid-utf8", "repair", "--dedup.near", "false"));
        Map<String, Row> rejected = byId(hdfs.uri("/out/repair/rejected"));
        Row latin1 = rejected.get("latin1");
        assertNotEquals("decode", latin1.getAs("stage"), "decoded, then judged on its (too short) text");
        assertTrue(((String) latin1.getAs("text")).contains("caf\uFFFD"), (String) latin1.getAs("text"));
    }

    @Test
    void parquetInputIsReadWithTheConfiguredColumns() throws Exception {
        LocalSpark.get().read().json(hdfs.uri("/in/good.jsonl")).withColumnRenamed("text", "body")
                .write().parquet(hdfs.uri("/parquet/docs"));
        assertEquals(0, SparkMoeMain.run("prepare", "--input", hdfs.uri("/parquet/docs"), "--input.text-field", "body",
                "--output", hdfs.uri("/out/parquet"), "--dedup.near", "false"));
        Map<String, Row> all = byId(hdfs.uri("/out/parquet/kept"));
        all.putAll(byId(hdfs.uri("/out/parquet/rejected")));
        assertEquals(new java.util.TreeSet<>(goodIds), new java.util.TreeSet<>(all.keySet()));
        assertUsage("'text'", "prepare", "--input", hdfs.uri("/parquet/docs"), "--output", hdfs.uri("/out/x"));
    }

    @Test
    void rerunReplacesTheOutputWithIdenticalBytes() throws Exception {
        String[] args = {"prepare", "--input", hdfs.uri("/in/good.jsonl"), "--input", hdfs.uri("/in/notes.txt"),
                "--output", hdfs.uri("/out/rerun")};
        assertEquals(0, SparkMoeMain.run(args));
        Map<String, byte[]> first = snapshot("/out/rerun");
        assertEquals(0, SparkMoeMain.run(args));
        Map<String, byte[]> second = snapshot("/out/rerun");
        assertEquals(first.keySet(), second.keySet());
        for (String file : first.keySet()) {
            assertArrayEquals(first.get(file), second.get(file), file);
        }
        assertTrue(first.keySet().stream().anyMatch(f -> f.startsWith("kept/part-")), first.keySet().toString());
    }

    @Test
    void badCommandLinesEndAtOnceWithStatusTwoAndAMessageNamingTheProblem() {
        assertUsage("/in/does-not-exist.jsonl", "prepare", "--input", hdfs.uri("/in/does-not-exist.jsonl"),
                "--output", hdfs.uri("/out/x"));
        assertUsage("no-such.properties", "prepare", "--config", hdfs.uri("/conf/no-such.properties"),
                "--input", hdfs.uri("/in/good.jsonl"), "--output", hdfs.uri("/out/x"));
        assertUsage("minhash.bandz", "prepare", "--minhash.bandz", "14", "--input", hdfs.uri("/in/good.jsonl"),
                "--output", hdfs.uri("/out/x"));
        assertUsage("decode.invalid-utf8", "prepare", "--decode.invalid-utf8", "ignore", "--input",
                hdfs.uri("/in/good.jsonl"), "--output", hdfs.uri("/out/x"));
    }

    private static void assertUsage(String named, String... args) {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = SparkMoeMain.run(args);
        } finally {
            System.setErr(original);
        }
        String message = captured.toString(StandardCharsets.UTF_8);
        assertEquals(2, status, message);
        List<String> ours = message.lines().filter(l -> l.startsWith("sparkmoe prepare: ")).toList();
        assertEquals(1, ours.size(), "one message: " + message);
        assertTrue(ours.get(0).contains(named), ours.get(0));
    }

    private static void assertReason(Map<String, Row> rejected, String id, String stage, String reason) {
        Row r = rejected.get(id);
        assertTrue(r != null, "not rejected: " + id + " (rejected: " + rejected.keySet() + ")");
        assertEquals(stage, r.getAs("stage"), id);
        assertEquals(reason, r.getAs("reason"), id);
    }

    private static Map<String, Row> byId(String uri) {
        Map<String, Row> out = new HashMap<>();
        for (Row r : LocalSpark.get().read().parquet(uri).collectAsList()) {
            out.put(r.getAs("id"), r);
        }
        return out;
    }

    private static JsonNode report(String dir) throws Exception {
        try (InputStream in = fs.open(new Path(dir + "/report.json"))) {
            return JSON.readTree(in);
        }
    }

    private static Map<String, byte[]> snapshot(String dir) throws Exception {
        Map<String, byte[]> files = new TreeMap<>();
        var it = fs.listFiles(new Path(dir), true);
        while (it.hasNext()) {
            FileStatus f = it.next();
            String relative = f.getPath().toUri().getPath().substring(dir.length() + 1);
            try (InputStream in = fs.open(f.getPath())) {
                files.put(relative, in.readAllBytes());
            }
        }
        return files;
    }

    private static void write(String path, String content) throws Exception {
        try (OutputStream out = fs.create(new Path(path))) {
            out.write(content.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void line(ByteArrayOutputStream out, String json) {
        out.writeBytes((json + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static int indexOf(byte[] bytes, byte b) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        throw new IllegalArgumentException("not found");
    }

    private static JsonNode read(String json) {
        try {
            return JSON.readTree(json);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
