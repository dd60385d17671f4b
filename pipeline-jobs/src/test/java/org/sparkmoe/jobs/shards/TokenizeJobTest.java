package org.sparkmoe.jobs.shards;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * The tokenize job end to end: Spark local mode, MiniDFSCluster, corpus samples, the DeepSeek-V3 tokenizer. One
 * dataset is built twice in {@code @BeforeAll}; the tests read it back with the project's reader and, independently,
 * with Arrow Java's own IPC reader.
 */
class TokenizeJobTest {

    private static final int SEQ_LEN = 512;

    private static MiniHdfs hdfs;
    private static PreparedCorpusFixture corpus;
    private static Tokenizer tokenizer;
    private static Manifest first;
    private static Manifest second;

    @BeforeAll
    static void build() throws Exception {
        hdfs = MiniHdfs.start();
        SparkSession spark = LocalSpark.get();
        Map<String, Integer> files = new LinkedHashMap<>();
        files.put("en_fortunes.jsonl", 1500);
        files.put("zh_poetry_fortunes.jsonl", 400);
        files.put("code.jsonl", 8);
        files.put("other_multilingual.jsonl", 100);
        corpus = PreparedCorpusFixture.write(spark, hdfs.uri("/prepare"), files);
        tokenizer = Tokenizer.load(SharedData.deepseekV3Tokenizer());
        first = TokenizeJob.tokenize(spark, config("/datasets/a"));
        second = TokenizeJob.tokenize(spark, config("/datasets/b"));
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    private static TokenizeConfig config(String output) {
        Map<String, String> settings = new HashMap<>(defaults());
        settings.put("input", hdfs.uri("/prepare"));
        settings.put("tokenizer", SharedData.deepseekV3Tokenizer().toUri().toString());
        settings.put("output", hdfs.uri(output));
        settings.put("mixture.shares", "en:0.5,zh:0.5,code:0");
        settings.put("validation-ratio", "0.1");
        settings.put("shard.size-mb", "0.05");
        settings.put("shard.batch-tokens", "16384");
        return TokenizeConfig.from(JobSettings.of("tokenize", settings));
    }

    private static Map<String, String> defaults() {
        return JobSettings.resolve(new TokenizeJob(), List.of("--input", "x", "--tokenizer", "x", "--output", "x"))
                .asMap();
    }

    /** One row of a shard as Arrow Java's own reader sees it. */
    private record ArrowRow(String id, String lang, int[] tokens) {}

    private static List<ArrowRow> readWithArrowJava(String dataset, String split) throws IOException {
        FileSystem fs = hdfs.fileSystem();
        List<ArrowRow> rows = new ArrayList<>();
        for (ShardInfo shard : first.split(split).shards()) {
            byte[] bytes = readAll(fs, new Path(dataset + "/v1/" + shard.path()));
            try (RootAllocator allocator = new RootAllocator();
                 ArrowFileReader reader = new ArrowFileReader(new ByteArrayReadableSeekableByteChannel(bytes), allocator)) {
                VectorSchemaRoot root = reader.getVectorSchemaRoot();
                while (reader.loadNextBatch()) {
                    ListVector tokens = (ListVector) root.getVector(ShardSchema.TOKENS);
                    VarCharVector ids = (VarCharVector) root.getVector(ShardSchema.DOC_ID);
                    VarCharVector langs = (VarCharVector) root.getVector(ShardSchema.LANG);
                    for (int r = 0; r < root.getRowCount(); r++) {
                        int[] t = tokens.getObject(r).stream().mapToInt(v -> (Integer) v).toArray();
                        rows.add(new ArrowRow(ids.getObject(r).toString(), langs.getObject(r).toString(), t));
                    }
                }
            }
        }
        return rows;
    }

    private static byte[] readAll(FileSystem fs, Path path) throws IOException {
        try (InputStream in = fs.open(path)) {
            return in.readAllBytes();
        }
    }

    @Test
    void packedSequencesDecodeBackToTheDocumentsInOrder() throws Exception {
        List<ArrowRow> rows = readWithArrowJava("/datasets/a", Manifest.TRAIN);
        int eos = first.tokenizer().eosId();
        try (TokenDataset ds = TokenDataset.open(hdfs.uri("/datasets/a/v1"), Manifest.TRAIN, SEQ_LEN,
                new Configuration())) {
            assertTrue(ds.sequenceCount() > 20, "fixture too small: " + ds.sequenceCount() + " sequences");
            // The stream covered by the packed sequences, rebuilt from them alone.
            List<Integer> stream = new ArrayList<>();
            int[] seq = new int[SEQ_LEN + 1];
            for (long i = 0; i < ds.sequenceCount(); i++) {
                ds.readSequence(i, seq, 0);
                if (i > 0) {
                    assertEquals(stream.getLast(), seq[0], "consecutive sequences share one token");
                    stream.removeLast();
                }
                for (int t : seq) {
                    stream.add(t);
                }
            }
            int doc = 0;
            int start = 0;
            for (int p = 0; p < stream.size(); p++) {
                if (stream.get(p) == eos) {
                    int[] ids = stream.subList(start, p).stream().mapToInt(Integer::intValue).toArray();
                    ArrowRow row = rows.get(doc++);
                    assertEquals(corpus.documents.get(row.id()).getString(3), tokenizer.decode(ids),
                            "document " + row.id() + " at stream position " + start);
                    start = p + 1;
                }
            }
            assertTrue(doc > rows.size() / 2, "decoded " + doc + " of " + rows.size() + " documents");
        }
    }

    @Test
    void languageSharesMatchTheRequest() throws Exception {
        Map<String, Long> tokens = new HashMap<>();
        Map<String, Set<String>> idsByLang = new HashMap<>();
        long total = 0;
        long longest = 0;
        for (ArrowRow row : readWithArrowJava("/datasets/a", Manifest.TRAIN)) {
            tokens.merge(row.lang(), (long) row.tokens().length, Long::sum);
            idsByLang.computeIfAbsent(row.lang(), k -> new HashSet<>()).add(row.id());
            total += row.tokens().length;
            longest = Math.max(longest, row.tokens().length);
        }
        assertEquals(Set.of("en", "zh"), tokens.keySet(), "code has share 0 and other is not listed");
        // Documents are taken whole: the histogram threshold lands within one document of the target (the
        // boundary bin of 65,536 rarely holds two), so allow the longest document's share.
        double tolerance = (double) longest / total;
        assertTrue(tolerance < 0.05, "tolerance " + tolerance + " too loose to mean anything");
        for (String lang : List.of("en", "zh")) {
            double share = (double) tokens.get(lang) / total;
            System.out.printf("%s share %.5f (target 0.5, tolerance %.5f)%n", lang, share, tolerance);
            assertEquals(0.5, share, tolerance, lang + " share");
            assertEquals(share, first.mixture().get(lang).reachedShare(), 1e-12, "manifest reports the reached share");
        }
        // No repetition was needed (mixture.total-tokens=0): the scarcer language is used whole, once.
        String scarce = first.mixture().get("en").rate() >= first.mixture().get("zh").rate() ? "en" : "zh";
        assertEquals(1.0, first.mixture().get(scarce).rate(), 1e-12);
        long inputTrainDocs = corpus.documents.values().stream()
                .filter(r -> r.getString(2).equals(scarce) && !SplitAssigner.isValidation(r.getString(0), 0.1))
                .count();
        assertEquals(inputTrainDocs, idsByLang.get(scarce).size());
    }

    @Test
    void trainAndValidationAreDisjointAndFollowTheIdHash() throws Exception {
        Set<String> train = new HashSet<>();
        readWithArrowJava("/datasets/a", Manifest.TRAIN).forEach(r -> train.add(r.id()));
        List<ArrowRow> validation = readWithArrowJava("/datasets/a", Manifest.VALIDATION);
        assertFalse(validation.isEmpty());
        for (ArrowRow row : validation) {
            assertFalse(train.contains(row.id()), row.id() + " is in both splits");
            assertTrue(SplitAssigner.isValidation(row.id(), 0.1));
            assertArrayEquals(tokenizer.encode(corpus.documents.get(row.id()).getString(3)),
                    Arrays.copyOf(row.tokens(), row.tokens().length - 1));
        }
        long expected = corpus.documents.values().stream().filter(r -> SplitAssigner.isValidation(r.getString(0), 0.1)
                && (r.getString(2).equals("en") || r.getString(2).equals("zh"))).count();
        assertEquals(expected, validation.size(), "validation holds every en/zh document the hash assigns it, once");
    }

    @Test
    void rerunIsByteIdentical() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        assertEquals(first.toJson(), second.toJson());
        assertArrayEquals(readAll(fs, new Path("/datasets/a/v1/manifest.json")),
                readAll(fs, new Path("/datasets/b/v1/manifest.json")));
        int shards = 0;
        for (String split : List.of(Manifest.TRAIN, Manifest.VALIDATION)) {
            for (ShardInfo shard : first.split(split).shards()) {
                assertArrayEquals(readAll(fs, new Path("/datasets/a/v1/" + shard.path())),
                        readAll(fs, new Path("/datasets/b/v1/" + shard.path())), shard.path());
                shards++;
            }
        }
        assertTrue(first.split(Manifest.TRAIN).shards().size() >= 2, "fixture should make several train shards");
        assertTrue(shards >= 3);
    }

    @Test
    void publishedVersionsAreImmutableAndSurviveAnUnfinishedRun() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        assertThrows(UsageException.class, () -> TokenizeJob.tokenize(LocalSpark.get(), config("/datasets/a")));
        // What a killed run leaves: a staging directory with a half-written shard and no manifest.
        Path staging = new Path("/datasets/a/.v2.staging-killed/train");
        fs.mkdirs(staging);
        try (var out = fs.create(new Path(staging, ".shard-00000.arrow.staging-killed"))) {
            out.write("ARROW1 half".getBytes(StandardCharsets.US_ASCII));
        }
        try (TokenDataset ds = TokenDataset.open(hdfs.uri("/datasets/a/v1"), Manifest.TRAIN, SEQ_LEN,
                new Configuration())) {
            ds.readSequence(ds.sequenceCount() - 1, new int[SEQ_LEN + 1], 0);
        }
        assertThrows(UsageException.class, () -> Manifest.read(fs, new Path("/datasets/a/.v2.staging-killed")));
    }

    @Test
    void inspectPrintsTheSummaryAndDecodedSamples() throws IOException {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream original = System.out;
        int status;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            status = SparkMoeMain.run("inspect", hdfs.uri("/datasets/a/v1/manifest.json"),
                    "--sample", "2", "--seq-len", "64");
        } finally {
            System.setOut(original);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, out);
        assertTrue(out.contains("dataset v1") && out.contains("train: " + first.split(Manifest.TRAIN).shards().size()
                + " shards"), out);
        assertEquals(2, out.split("--- train sequence ", -1).length - 1, out);
        Matcher header = Pattern.compile("--- train sequence (\\d+) of").matcher(out);
        assertTrue(header.find(), out);
        try (TokenDataset ds = TokenDataset.open(hdfs.uri("/datasets/a/v1"), Manifest.TRAIN, 64, new Configuration())) {
            int[] seq = new int[65];
            ds.readSequence(Long.parseLong(header.group(1)), seq, 0);
            assertTrue(out.contains(tokenizer.decode(seq, false)), "the sample is the decoded sequence: " + out);
        }
    }

    @Test
    void badInputIsAUsageErrorNamingIt() {
        assertEquals(2, SparkMoeMain.run("inspect", hdfs.uri("/datasets/none")));
        UsageException e = assertThrows(UsageException.class, () -> {
            Map<String, String> settings = new HashMap<>(defaults());
            settings.put("input", hdfs.uri("/not-prepared"));
            settings.put("tokenizer", SharedData.deepseekV3Tokenizer().toUri().toString());
            settings.put("output", hdfs.uri("/datasets/c"));
            TokenizeJob.tokenize(LocalSpark.get(), TokenizeConfig.from(JobSettings.of("tokenize", settings)));
        });
        assertTrue(e.getMessage().contains("/not-prepared") && e.getMessage().contains("kept/"), e.getMessage());
    }
}
