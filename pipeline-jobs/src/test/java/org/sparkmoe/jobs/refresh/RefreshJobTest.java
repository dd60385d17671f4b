package org.sparkmoe.jobs.refresh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * Successive refreshes of one dataset on a MiniDFSCluster with local Spark, over parts of the real training
 * corpus: a first version, a second with more files plus exact and near copies of kept documents, a third with
 * nothing new, a refresh that stops between writing its data and publishing, and two refreshes at once.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RefreshJobTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static MiniHdfs hdfs;
    private static FileSystem fs;
    private static SparkSession spark;
    private static String corpus;
    private static String target;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        fs = hdfs.fileSystem();
        spark = LocalSpark.get();
        corpus = hdfs.uri("/corpus");
        target = hdfs.uri("/datasets/refreshed");
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
        assertEquals(kept, documentsInData(v1));
    }

    @Test
    @Order(2)
    void secondRefreshAddsNewFilesAndDropsCopiesOfKeptDocuments() throws Exception {
        DatasetVersion v1 = versions().current().orElseThrow();
        List<Row> originals = spark.read().parquet(target + "/data/v00001").where("length(text) > 3000")
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
        assertEquals(v1.shards(), v2.shards().subList(0, v1.shards().size()), "the old shards stay, listed first");
        assertEquals(v1.documents() + v2.added().get("kept"), v2.documents());
        assertEquals(4, v2.inputs().size());
        Set<String> ids = allIds(v2);
        for (String copy : copyIds) {
            assertFalse(ids.contains(copy), copy + " duplicates a kept document and must not come back");
        }
    }

    @Test
    @Order(3)
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
    @Order(4)
    void refreshKilledBeforePublishingIsCompletedByTheNextOne() throws Exception {
        copyPart("en_python_docs.jsonl", 30);
        RefreshConfig config = RefreshConfig.from(settings(600));
        DatasetVersions versions = versions();
        ChangeSet changes = new ChangeDetector(spark.sparkContext().hadoopConfiguration())
                .detect(config.inputs(), versions.current().orElseThrow().inputs());
        // The killed run: data, index and pending marker written, the manifest never published.
        PendingVersion built = RefreshJob.build(spark, config, settings(600), versions, changes, 3);
        assertEquals(2, versions.current().orElseThrow().version(), "a refresh that dies leaves the last version current");
        Map<String, Long> dataTimes = modificationTimes(versions.dataDir(3));

        DatasetVersion v3 = refresh(600).published().orElseThrow();
        assertEquals(3, v3.version());
        assertEquals(built.shards(), v3.shards().subList(v3.shards().size() - built.shards().size(), v3.shards().size()));
        assertEquals(dataTimes, modificationTimes(versions.dataDir(3)), "the pending version was published, not rebuilt");
        Set<String> ids = allIds(v3);
        assertEquals(v3.documents(), ids.size(), "no document twice");
    }

    @Test
    @Order(5)
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
        assertEquals(4, versions().current().orElseThrow().version());
        assertFalse(fs.exists(versions().manifest(5)));
    }

    private static RefreshJob.Outcome refresh(int waitSeconds) throws Exception {
        JobSettings settings = settings(waitSeconds);
        return RefreshJob.refresh(() -> spark, RefreshConfig.from(settings), settings);
    }

    private static JobSettings settings(int waitSeconds) {
        return JobSettings.resolve(new RefreshJob(), List.of("--input", corpus + "/*.jsonl", "--target", target,
                "--lock.wait_seconds", String.valueOf(waitSeconds), "--lock.lease_seconds", "30"));
    }

    private static DatasetVersions versions() {
        return new DatasetVersions(fs, new Path(target));
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

    private static long documentsInData(DatasetVersion v) {
        return spark.read().parquet(v.shards().stream().map(s -> target + "/" + s.path()).toArray(String[]::new)).count();
    }

    private static Set<String> allIds(DatasetVersion v) {
        List<Row> rows = spark.read().parquet(v.shards().stream().map(s -> target + "/" + s.path()).toArray(String[]::new))
                .select("id").collectAsList();
        Set<String> ids = new HashSet<>();
        rows.forEach(r -> ids.add(r.getString(0)));
        assertEquals(rows.size(), ids.size(), "ids are unique across all shards");
        return ids;
    }

    private static Map<String, Long> modificationTimes(Path dir) throws Exception {
        Map<String, Long> times = new java.util.TreeMap<>();
        for (FileStatus f : fs.listStatus(dir)) {
            times.put(f.getPath().getName(), f.getModificationTime());
        }
        return times;
    }
}
