package org.sparkmoe.jobs.refresh;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.spark.JobProgress;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.ShardInfo;
import org.sparkmoe.jobs.shards.ShardSchema;
import org.sparkmoe.jobs.shards.TokenDataset;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.jobs.train.MetricsLog;
import org.sparkmoe.jobs.train.ShardTrainingData;
import org.sparkmoe.jobs.train.TrainJob;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * Successive refreshes of one token-shard dataset on a MiniDFSCluster with local Spark and the DeepSeek-V3
 * tokenizer, over parts of the real training corpus: a first version, a second with more files plus exact and near
 * copies of kept documents, the real {@code train} job on the dataset root (a tiny-shaped MoE with the tokenizer's
 * vocabulary), a third refresh with nothing new, a refresh that stops between writing its shards and publishing
 * (and a resume of the train run once the root stands for that newer version), refreshes with another tokenizer or
 * BOS setting (refused), and two refreshes at once. Token counts are checked against an independent count: every
 * kept document encoded with the tokenizer, plus its EOS.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RefreshJobTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static MiniHdfs hdfs;
    private static FileSystem fs;
    private static SparkSession spark;
    private static Tokenizer tokenizer;
    private static String tokenizerUri;
    private static String tokenizeConfig;
    private static String corpus;
    private static String target;
    /** A tiny-shaped model file with the tokenizer's vocabulary (written by the first train test). */
    private static String tinyV3;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        fs = hdfs.fileSystem();
        spark = LocalSpark.get();
        corpus = hdfs.uri("/corpus");
        target = hdfs.uri("/datasets/refreshed");
        tokenizer = Tokenizer.load(SharedData.deepseekV3Tokenizer());
        tokenizerUri = SharedData.deepseekV3Tokenizer().toUri().toString();
        // Small shards so that every version has several; a tenth of the documents in validation.
        write("/conf/tokenize.properties", "shard.size-mb=0.02\nvalidation-ratio=0.1\n");
        tokenizeConfig = hdfs.uri("/conf/tokenize.properties");
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    @Test
    @Order(1)
    void firstRefreshPublishesVersionOne() throws Exception {
        copyPart("en_wikitext.jsonl", 60);
        copyPart("code.jsonl", 30);
        RefreshJob.Outcome outcome = refresh(600);
        DatasetVersion v1 = outcome.published().orElseThrow();
        assertEquals(1, v1.version());
        assertEquals(2, v1.inputs().size());
        long kept = v1.added().get("kept");
        assertTrue(kept > 20, "prepare keeps most of wikitext and code: " + v1.added());
        assertEquals(v1.added().get("prepare_kept"), kept, "nothing to deduplicate against in version 1");
        assertEquals(90, v1.added().get("records_in"));
        assertEquals(kept, v1.documentCount());
        assertTrue(v1.tokens().split(Manifest.TRAIN).shards().size() > 1, "several train shards");
        assertEquals(encodedTokens(v1), v1.tokenCount(), "every kept document, encoded, EOS appended");
        assertEquals(v1.tokenCount(), v1.added().get("tokens"));
        assertEquals(v1.tokenCount(), readerTokens(1));
        assertEquals(documentIds(v1), shardDocumentIds(v1), "the shards hold exactly the kept documents");
    }

    @Test
    @Order(2)
    void secondRefreshAddsShardsForNewFilesOnlyAndDropsCopiesOfKeptDocuments() throws Exception {
        DatasetVersion v1 = versions().current().orElseThrow();
        Map<String, String> v1Hashes = fileHashes(v1);
        List<Row> originals = spark.read().parquet(target + "/data/v00001/kept").where("length(text) > 3000")
                .orderBy("id").limit(6).collectAsList();
        assertEquals(6, originals.size());
        StringBuilder copies = new StringBuilder();
        List<String> copyIds = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String text = originals.get(i).getAs("text");
            boolean exact = i < 3;
            String id = (exact ? "copy-exact-" : "copy-near-") + i;
            copyIds.add(id);
            if (!exact) {
                // A light edit: one word replaced and a line appended, as a re-crawled page would differ.
                text = text.replaceFirst("\\b(\\w{4,})\\b", "zebra") + "\nEdited later.";
            }
            ObjectNode doc = JSON.createObjectNode().put("id", id).put("source", "test:copies")
                    .put("lang_hint", "en").put("text", text);
            copies.append(JSON.writeValueAsString(doc)).append('\n');
        }
        write("/corpus/copies.jsonl", copies.toString());
        copyPart("zh_manpages.jsonl", 60);

        DatasetVersion v2 = refresh(600).published().orElseThrow();
        assertEquals(2, v2.version());
        assertEquals(3L, v2.added().get(DedupIndex.REASON_EXACT), v2.added().toString());
        assertEquals(3L, v2.added().get(DedupIndex.REASON_NEAR), v2.added().toString());
        assertEquals(4, v2.inputs().size());
        for (String split : List.of(Manifest.TRAIN, Manifest.VALIDATION)) {
            List<ShardInfo> old = v1.tokens().split(split).shards();
            assertEquals(old, v2.tokens().split(split).shards().subList(0, old.size()),
                    split + ": the old shards stay, listed first");
        }
        assertEquals(v1Hashes, fileHashes(v1), "the old shard files are unchanged (SHA-256)");
        v1Hashes.forEach((path, sha) -> assertTrue(v2.tokens().splits().values().stream()
                .flatMap(s -> s.shards().stream()).anyMatch(s -> s.path().equals(path) && s.sha256().equals(sha)), path));

        Manifest added = Manifest.read(fs, versions().shardsDir(2));
        long addedTokens = added.splits().values().stream().mapToLong(Manifest.Split::tokens).sum();
        assertEquals(v1.tokenCount() + addedTokens, v2.tokenCount());
        assertEquals(v2.tokenCount(), readerTokens(2), "TokenDataset reads old and new shards");
        assertEquals(encodedTokens(v2), v2.tokenCount());
        assertEquals(v1.documentCount() + v2.added().get("kept"), v2.documentCount());
        Set<String> inShards = shardDocumentIds(v2);
        assertEquals(documentIds(v2), inShards);
        for (String copy : copyIds) {
            assertFalse(inShards.contains(copy), copy + " duplicates a kept document and must not come back");
        }

        PrintStream console = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
        int status;
        try {
            // The dataset root stands for its current version wherever a manifest is expected.
            status = SparkMoeMain.run("inspect", target, "--sample", "1", "--seq-len", "64");
        } finally {
            System.setOut(console);
        }
        assertEquals(0, status, printed.toString(StandardCharsets.UTF_8));
        assertTrue(printed.toString(StandardCharsets.UTF_8).contains("v00002"), printed.toString(StandardCharsets.UTF_8));
    }

    @Test
    @Order(3)
    void trainRunsOnTheDatasetRootAndRecordsTheCurrentVersion() throws Exception {
        DatasetVersion v2 = versions().current().orElseThrow();
        // A tiny-shaped MoE whose embedding covers the tokenizer (tiny's 512 ids do not), as a --model file.
        Properties model = new Properties();
        try (InputStream tiny = RefreshJobTest.class.getClassLoader()
                .getResourceAsStream("sparkmoe-conf/models/tiny.properties")) {
            model.load(new InputStreamReader(tiny, StandardCharsets.UTF_8));
        }
        int vocab = v2.tokens().tokenizer().vocabSize();
        model.setProperty("vocab_size", Integer.toString(vocab));
        model.setProperty("hidden_size", "32");
        model.setProperty("num_attention_heads", "2");
        StringWriter text = new StringWriter();
        model.store(text, "tiny with the DeepSeek-V3 vocabulary");
        write("/models/tiny-v3.properties", text.toString());
        tinyV3 = hdfs.uri("/models/tiny-v3.properties");

        // As the cron line and the Airflow DAG run it: --manifest is the dataset root.
        assertEquals(0, SparkMoeMain.run(trainArgs(target, tinyV3, tokenizerUri, "after-v2", 1)));
        Path run = new Path("/runs/after-v2");
        byte[] copy = readAll(new Path(run, "manifest.json"));
        assertArrayEquals(readAll(versions().manifest(2)), copy, "the run keeps the current version's manifest");
        Manifest read = Manifest.fromJson(new String(copy, StandardCharsets.UTF_8), "run copy");
        assertEquals("v00002", read.datasetVersion());
        List<ShardInfo> v1Train = Manifest.read(fs, versions().shardsDir(1)).split(Manifest.TRAIN).shards();
        List<ShardInfo> trained = read.split(Manifest.TRAIN).shards();
        assertTrue(trained.size() > v1Train.size() && trained.stream().anyMatch(s -> s.path().startsWith("v00002/")),
                "old and new shards: " + trained);
        assertEquals(v1Train.stream().map(s -> "v00001/" + s.path()).toList(),
                trained.subList(0, v1Train.size()).stream().map(ShardInfo::path).toList(), "version 1's shards first");
        JsonNode summary = JSON.readTree(readAll(new Path(run, "summary.json")));
        assertEquals(versions().manifest(2).toString(), summary.path("manifest").asText());
        List<String> rounds = MetricsLog.readLines(fs, new Path(run, "metrics/rounds.jsonl"));
        assertEquals(1, rounds.size());
        JsonNode round = JSON.readTree(rounds.getFirst());
        assertEquals(2L * 2 * 2 * 32, round.path("tokens").asLong(), "W x H x batch x seq-len tokens");
        // A near-uniform init predicts every id about equally: the loss starts near ln(vocab), so all ids are embedded.
        double loss = round.path("loss").asDouble();
        assertTrue(Math.abs(loss - Math.log(vocab)) < 1.0, "first-round loss " + loss + " vs ln " + vocab);

        // The tokenizer check holds for the root form: another tokenizer file is refused before anything runs.
        write("/tokenizers/train-other/tokenizer.json", " " + Files.readString(SharedData.deepseekV3Tokenizer()));
        String other = hdfs.uri("/tokenizers/train-other/tokenizer.json");
        UsageException e = assertThrows(UsageException.class,
                () -> new TrainJob().run(trainSettings(trainArgs(target, tinyV3, other, "other-tokenizer", 1))));
        assertTrue(e.getMessage().contains(versions().manifest(2).toString()) && e.getMessage().contains("tokenizer"),
                e.getMessage());
        assertFalse(fs.exists(new Path("/runs/other-tokenizer")), "refused before the run directory is made");
        String missing = hdfs.uri("/models/missing.properties");
        UsageException noModel = assertThrows(UsageException.class,
                () -> new TrainJob().run(trainSettings(trainArgs(target, missing, tokenizerUri, "no-model", 1))));
        assertTrue(noModel.getMessage().contains(missing) && noModel.getMessage().contains("neither a preset"),
                noModel.getMessage());
    }

    /** The train job with W = 2, two local steps, short sequences; {@code more} adds options not given here. */
    private static String[] trainArgs(String manifest, String model, String tokenizerFile, String runId, int rounds,
                                      String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--manifest", manifest, "--model", model,
                "--tokenizer", tokenizerFile, "--runs", hdfs.uri("/runs"), "--run-id", runId, "--workers", "2",
                "--local-steps", "2", "--rounds", String.valueOf(rounds), "--batch-size", "2", "--seq-len", "32",
                "--outer-optimizer", "average", "--engine.micro-batch", "2", "--engine.warmup-steps", "0",
                "--spark.master", "local[2]", "--spark.driver.host", "localhost"));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    private static JobSettings trainSettings(String[] args) {
        return JobSettings.resolve(new TrainJob(), List.of(args).subList(1, args.length));
    }

    @Test
    @Order(4)
    void refreshWithNothingNewChangesNothingAndSaysSo() throws Exception {
        FileStatus before = fs.getFileStatus(versions().manifest(2));
        // Touched but not changed: the hash decides.
        fs.setTimes(new Path("/corpus/code.jsonl"), System.currentTimeMillis(), -1);
        RefreshJob.Outcome outcome = refresh(600);
        assertTrue(outcome.published().isEmpty());
        assertTrue(outcome.message().contains("nothing changes"), outcome.message());
        assertEquals(2, versions().current().orElseThrow().version());
        assertEquals(before.getModificationTime(), fs.getFileStatus(versions().manifest(2)).getModificationTime());
        assertFalse(fs.exists(versions().manifest(3)));
    }

    @Test
    @Order(5)
    void refreshKilledAfterWritingShardsIsCompletedByTheNextOne() throws Exception {
        copyPart("en_python_docs.jsonl", 30);
        RefreshConfig config = RefreshConfig.from(settings(600));
        DatasetVersions versions = versions();
        DatasetVersion v2 = versions.current().orElseThrow();
        ChangeSet changes = new ChangeDetector(spark.sparkContext().hadoopConfiguration())
                .detect(config.inputs(), v2.inputs());
        // The killed run: documents, index, token shards and pending marker written, the version never published.
        PendingVersion built;
        try (JobProgress progress = JobProgress.steps(spark, "refresh", 5)) {
            built = RefreshJob.build(spark, config, settings(600), versions, changes, 3, progress);
        }
        assertEquals(2, versions.current().orElseThrow().version(), "a refresh that dies leaves the last version current");
        assertTrue(fs.exists(new Path(versions.shardsDir(3), Manifest.FILE_NAME)), "the shards were written");
        Map<String, Long> shardTimes = modificationTimes(new Path(versions.shardsDir(3), Manifest.TRAIN));

        DatasetVersion v3 = refresh(600).published().orElseThrow();
        assertEquals(3, v3.version());
        assertEquals(built.documents(), v3.documents().subList(v3.documents().size() - built.documents().size(),
                v3.documents().size()));
        assertEquals(shardTimes, modificationTimes(new Path(versions.shardsDir(3), Manifest.TRAIN)),
                "the pending version was published, not rebuilt");
        assertEquals(v2.tokenCount() + built.added().get("tokens"), v3.tokenCount(), "no shard counted twice");
        assertEquals(encodedTokens(v3), v3.tokenCount());
        assertEquals(v3.tokenCount(), readerTokens(3));
        assertEquals(v3.documentCount(), shardDocumentIds(v3).size(), "no document twice");
    }

    @Test
    @Order(6)
    void aRunResumesOnTheVersionItStartedOnNotOnTheRootsNewerOne() throws Exception {
        assertEquals(3, versions().current().orElseThrow().version());
        String v2 = versions().manifest(2).toString();
        Properties config = new Properties();
        config.load(new StringReader(new String(readAll(new Path("/runs/after-v2/config.properties")),
                StandardCharsets.UTF_8)));
        assertEquals(v2, config.getProperty("manifest"), "the run records the version file it read, not the root");

        // The root now stands for version 3: the workers' reader positions in version 2 mean nothing there.
        UsageException e = assertThrows(UsageException.class, () -> new TrainJob().run(
                trainSettings(trainArgs(target, tinyV3, tokenizerUri, "after-v2", 2, "--resume", "true"))));
        assertTrue(e.getMessage().contains("v00002") && e.getMessage().contains(versions().manifest(3).toString())
                && e.getMessage().contains("--manifest " + v2), e.getMessage());
        assertEquals(0, SparkMoeMain.run(trainArgs(v2, tinyV3, tokenizerUri, "after-v2", 2, "--resume", "true")));
        assertEquals(2, MetricsLog.readLines(fs, new Path("/runs/after-v2/metrics/rounds.jsonl")).size());
    }

    @Test
    @Order(7)
    void anotherTokenizerStopsTheRefreshBeforeAnyWork() throws Exception {
        copyPart("en_fortunes.jsonl", 40);
        // The same vocabulary in other bytes is still another tokenizer file: its SHA-256 is its identity.
        String json = Files.readString(SharedData.deepseekV3Tokenizer());
        write("/tokenizers/other/tokenizer.json", " " + json);
        String other = hdfs.uri("/tokenizers/other/tokenizer.json");
        JobSettings settings = JobSettings.resolve(new RefreshJob(), List.of("--input", corpus + "/*.jsonl",
                "--target", target, "--tokenizer", other, "--tokenize.config", tokenizeConfig,
                "--lock.wait-seconds", "0", "--lock.lease-seconds", "30"));
        UsageException e = assertThrows(UsageException.class,
                () -> RefreshJob.refresh(() -> spark, RefreshConfig.from(settings), settings));
        assertTrue(e.getMessage().contains("share one tokenizer") && e.getMessage().contains(other), e.getMessage());
        assertEquals(3, versions().current().orElseThrow().version());
        assertFalse(fs.exists(versions().shardsDir(4)), "stopped before preparing or tokenizing anything");
    }

    @Test
    @Order(8)
    void anotherBosSettingIsRefusedWhenTheShardsWouldBeJoined() throws Exception {
        write("/conf/tokenize-bos.properties", "shard.size-mb=0.02\nvalidation-ratio=0.1\n"
                + "bos-token=<｜begin▁of▁sentence｜>\n");
        JobSettings settings = JobSettings.resolve(new RefreshJob(), List.of("--input", corpus + "/*.jsonl",
                "--target", target, "--tokenizer", tokenizerUri, "--tokenize.config", hdfs.uri("/conf/tokenize-bos.properties"),
                "--lock.wait-seconds", "0", "--lock.lease-seconds", "30"));
        UsageException e = assertThrows(UsageException.class,
                () -> RefreshJob.refresh(() -> spark, RefreshConfig.from(settings), settings));
        assertTrue(e.getMessage().contains("share one tokenizer") && e.getMessage().contains("bos"), e.getMessage());
        assertEquals(3, versions().current().orElseThrow().version());
        assertFalse(fs.exists(PendingVersion.file(versions().refreshDir(), 4)),
                "the refused shards are not left to be published by the next run");
    }

    @Test
    @Order(9)
    void twoConcurrentRefreshesPublishOnce() throws Exception {
        copyPart("en_debian_docs.jsonl", 20);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<Optional<DatasetVersion>>> runs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            runs.add(pool.submit(() -> {
                try {
                    return refresh(0).published();
                } catch (LeaseLock.LockHeldException e) {
                    assertTrue(e.getMessage().contains("another refresh holds the lock"), e.getMessage());
                    return Optional.<DatasetVersion>empty();
                }
            }));
        }
        int published = 0;
        for (Future<Optional<DatasetVersion>> run : runs) {
            published += run.get().isPresent() ? 1 : 0;
        }
        pool.shutdown();
        assertEquals(1, published, "exactly one of two concurrent refreshes publishes");
        DatasetVersion v4 = versions().current().orElseThrow();
        assertEquals(4, v4.version());
        assertFalse(fs.exists(versions().manifest(5)));
        assertEquals(encodedTokens(v4), readerTokens(4));
        try (TokenDataset current = TokenDataset.open(target, Manifest.TRAIN, 64, fs.getConf())) {
            assertEquals("v00004", current.manifest().datasetVersion(), "the root opens the current version");
            assertEquals(v4.tokens().split(Manifest.TRAIN).tokens(), current.tokenCount());
        }
        // What the train job opens on its driver, shards verified by SHA-256, given the dataset root.
        ShardTrainingData training = ShardTrainingData.open(target, 7, true, fs.getConf());
        assertEquals(versions().manifest(4).toString(), training.manifestUri());
        assertEquals(v4.tokens().split(Manifest.TRAIN).tokens(), training.tokens());
        assertNotEquals(0L, v4.added().get("kept"));
    }

    @Test
    @Order(10)
    void onlyCopiesOfKeptDocumentsGiveAVersionWithTheOldShardsOnly() throws Exception {
        DatasetVersion v4 = versions().current().orElseThrow();
        StringBuilder copies = new StringBuilder();
        List<Row> kept = spark.read().parquet(target + "/data/v00004/kept").orderBy("id").limit(3).collectAsList();
        for (Row row : kept) {
            copies.append(JSON.writeValueAsString(JSON.createObjectNode().put("id", "again-" + row.getAs("id"))
                    .put("source", "test:again").put("text", row.<String>getAs("text")))).append('\n');
        }
        write("/corpus/again.jsonl", copies.toString());
        // What a refresh killed inside its tokenize step leaves (no pending marker): a half-written staging
        // directory and a version directory of its own; the next refresh builds version 5 afresh without them.
        DatasetVersions versions = versions();
        Path staging = new Path(versions.versionsDir(), ".v00005.staging-killed");
        write(staging + "/train/shard-00000.arrow.attempt-3", "cut short");
        write(versions.shardsDir(5) + "/manifest.json", "{ not a manifest");
        DatasetVersion v5 = refresh(600).published().orElseThrow();
        assertFalse(fs.exists(staging), "the killed tokenize's staging directory is cleaned up");
        assertFalse(fs.exists(versions.shardsDir(5)), "nothing was kept, so version 5 has no shards of its own");
        assertEquals(5, v5.version());
        assertEquals(0L, v5.added().get("kept"), v5.added().toString());
        assertEquals(3L, v5.added().get(DedupIndex.REASON_EXACT), v5.added().toString());
        assertEquals(v4.tokens().splits(), v5.tokens().splits(), "the same shards");
        assertEquals(v4.documents(), v5.documents());
        assertEquals(v4.tokenCount(), readerTokens(5));
        assertTrue(refresh(600).message().contains("nothing changes"), "the copies' file is recorded as folded in");
    }

    @Test
    @Order(11)
    void helpAndAMissingTokenizerFromTheCommandLine() {
        assertEquals(0, SparkMoeMain.run("refresh", "--help"), "--help resolves conf/refresh.properties");
        assertEquals(2, SparkMoeMain.run("refresh", "--input", corpus + "/*.jsonl", "--target", target),
                "tokenizer is required: a usage error, exit status 2");
    }

    private static RefreshJob.Outcome refresh(int waitSeconds) throws Exception {
        JobSettings settings = settings(waitSeconds);
        return RefreshJob.refresh(() -> spark, RefreshConfig.from(settings), settings);
    }

    private static JobSettings settings(int waitSeconds) {
        return JobSettings.resolve(new RefreshJob(), List.of("--input", corpus + "/*.jsonl", "--target", target,
                "--tokenizer", tokenizerUri, "--tokenize.config", tokenizeConfig,
                "--lock.wait-seconds", String.valueOf(waitSeconds), "--lock.lease-seconds", "30"));
    }

    private static DatasetVersions versions() {
        return new DatasetVersions(fs, new Path(target));
    }

    /** Tokens of both splits as the shard reader counts them, opening the version's manifest like any dataset. */
    private static long readerTokens(int version) throws Exception {
        long tokens = 0;
        for (String split : List.of(Manifest.TRAIN, Manifest.VALIDATION)) {
            try (TokenDataset data = TokenDataset.open(versions().manifest(version).toString(), split, 64,
                    fs.getConf())) {
                tokens += data.tokenCount();
            }
        }
        return tokens;
    }

    /** The independent count: every kept document of every version encoded, plus its EOS. */
    private static long encodedTokens(DatasetVersion v) {
        return documents(v).select("text").collectAsList().stream()
                .mapToLong(r -> tokenizer.encode(r.getString(0)).length + 1L).sum();
    }

    private static org.apache.spark.sql.Dataset<Row> documents(DatasetVersion v) {
        return spark.read().parquet(v.documents().stream().map(d -> target + "/" + d.path()).toArray(String[]::new));
    }

    private static Set<String> documentIds(DatasetVersion v) {
        List<Row> rows = documents(v).select("id").collectAsList();
        Set<String> ids = new HashSet<>();
        rows.forEach(r -> ids.add(r.getString(0)));
        assertEquals(rows.size(), ids.size(), "ids are unique across all document files");
        return ids;
    }

    /** The doc_id column of every shard of both splits, read with Arrow Java's own reader; no id may repeat. */
    private static Set<String> shardDocumentIds(DatasetVersion v) throws Exception {
        List<String> ids = new ArrayList<>();
        for (Manifest.Split split : v.tokens().splits().values()) {
            for (ShardInfo shard : split.shards()) {
                byte[] bytes = readAll(new Path(versions().versionsDir(), shard.path()));
                try (RootAllocator allocator = new RootAllocator();
                     ArrowFileReader reader = new ArrowFileReader(new ByteArrayReadableSeekableByteChannel(bytes),
                             allocator)) {
                    VectorSchemaRoot root = reader.getVectorSchemaRoot();
                    while (reader.loadNextBatch()) {
                        VarCharVector docIds = (VarCharVector) root.getVector(ShardSchema.DOC_ID);
                        for (int r = 0; r < root.getRowCount(); r++) {
                            ids.add(docIds.getObject(r).toString());
                        }
                    }
                }
            }
        }
        Set<String> unique = new HashSet<>(ids);
        assertEquals(ids.size(), unique.size(), "no document in two shards or twice in one");
        return unique;
    }

    /** SHA-256 of every shard file of a version, by its manifest path, computed here from the bytes. */
    private static Map<String, String> fileHashes(DatasetVersion v) throws Exception {
        Map<String, String> hashes = new TreeMap<>();
        for (Manifest.Split split : v.tokens().splits().values()) {
            for (ShardInfo shard : split.shards()) {
                byte[] bytes = readAll(new Path(versions().versionsDir(), shard.path()));
                hashes.put(shard.path(), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)));
            }
        }
        return hashes;
    }

    private static byte[] readAll(Path path) throws Exception {
        try (InputStream in = fs.open(path)) {
            return in.readAllBytes();
        }
    }

    /** The first {@code lines} documents of a training corpus file, as a file of its own on HDFS. */
    private static void copyPart(String file, int lines) throws Exception {
        List<String> all = Files.readAllLines(SharedData.trainCorpus().resolve(file));
        write("/corpus/" + file, String.join("\n", all.subList(0, Math.min(lines, all.size()))) + "\n");
    }

    private static void write(String path, String content) throws Exception {
        try (OutputStream out = fs.create(new Path(path), true)) {
            out.write(content.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static Map<String, Long> modificationTimes(Path dir) throws Exception {
        Map<String, Long> times = new TreeMap<>();
        for (FileStatus f : fs.listStatus(dir)) {
            times.put(f.getPath().getName(), f.getModificationTime());
        }
        return times;
    }
}
