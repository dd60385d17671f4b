package org.sparkmoe.jobs.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.tokenizer.Tokenizer;

/** train-tokenizer on Spark local mode, reading and writing a real MiniDFSCluster. */
class TrainTokenizerJobTest {

    private static MiniHdfs hdfs;
    private static SparkSession spark;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        spark = LocalSpark.get();
        PrepareOutputFixture.write(spark, hdfs.uri("/prep"), "validation/en.jsonl", "validation/zh.jsonl",
                "validation/code_other.jsonl");
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    private static JobSettings settings(String output, Map<String, String> overrides) {
        Map<String, String> values = new HashMap<>(Map.of(
                "input", hdfs.uri("/prep"), "output", output, "vocab-size", "800", "min-frequency", "2",
                "special-tokens", "<｜begin▁of▁sentence｜>,<｜end▁of▁sentence｜>,<｜▁pad▁｜>",
                "bos-token", "<｜begin▁of▁sentence｜>", "eos-token", "<｜end▁of▁sentence｜>",
                "holdout-fraction", "0.1", "seed", "42"));
        values.put("lang-weights", "");
        values.putAll(overrides);
        return JobSettings.of("train-tokenizer", values);
    }

    private static String read(String uri) throws Exception {
        Path path = new Path(uri);
        try (InputStream in = path.getFileSystem(spark.sparkContext().hadoopConfiguration()).open(path)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void writesTokenizerAndReportToHdfsAndIsDeterministic() throws Exception {
        TrainTokenizerJob.train(spark, TrainTokenizerSettings.from(settings(hdfs.uri("/tok/a"), Map.of())));
        String json = read(hdfs.uri("/tok/a/tokenizer.json"));
        Tokenizer tokenizer = Tokenizer.fromJson(json);
        assertEquals(800, tokenizer.vocabSize());
        String text = "数据处理 data processing 123";
        assertEquals(text, tokenizer.decode(tokenizer.encode(text, true)));

        JsonNode report = new ObjectMapper().readTree(read(hdfs.uri("/tok/a/report.json")));
        assertEquals(800, report.get("vocab_size").asInt());
        JsonNode perLang = report.get("heldout_bytes_per_token");
        for (String lang : new String[] {"en", "zh"}) {
            double bpt = perLang.get(lang).get("bytes_per_token").asDouble();
            assertTrue(bpt > 1.0 && bpt < 8.0, lang + " bytes/token " + bpt);
        }

        // Same input and settings, another run and another partitioning of the counts: the same bytes.
        spark.conf().set("spark.sql.shuffle.partitions", "7");
        try {
            TrainTokenizerJob.train(spark, TrainTokenizerSettings.from(settings(hdfs.uri("/tok/b"), Map.of())));
        } finally {
            spark.conf().set("spark.sql.shuffle.partitions", "4");
        }
        assertEquals(json, read(hdfs.uri("/tok/b/tokenizer.json")));
    }

    @Test
    void languageWeightsSampleTheTrainingDocuments() throws Exception {
        TrainTokenizerJob.Result all = TrainTokenizerJob.train(spark,
                TrainTokenizerSettings.from(settings(hdfs.uri("/tok/all"), Map.of())));
        TrainTokenizerJob.Result noZh = TrainTokenizerJob.train(spark,
                TrainTokenizerSettings.from(settings(hdfs.uri("/tok/nozh"), Map.of("lang-weights", "zh=0.0"))));
        long allDocs = all.report().get("training_documents").asLong();
        long withoutZh = noZh.report().get("training_documents").asLong();
        assertTrue(withoutZh < allDocs / 2, withoutZh + " vs " + allDocs);
        // Without Chinese training text, Chinese compresses worse.
        double zhAll = all.report().get("heldout_bytes_per_token").get("zh").get("bytes_per_token").asDouble();
        double zhNone = noZh.report().get("heldout_bytes_per_token").get("zh").get("bytes_per_token").asDouble();
        assertTrue(zhNone < zhAll, zhNone + " vs " + zhAll);
    }

    @Test
    void badSettingsAreUsageErrors() {
        UsageException small = assertThrows(UsageException.class, () ->
                TrainTokenizerSettings.from(settings(hdfs.uri("/tok/x"), Map.of("vocab-size", "100"))));
        assertTrue(small.getMessage().contains("at least 259"), small.getMessage());
        UsageException weights = assertThrows(UsageException.class, () ->
                TrainTokenizerSettings.from(settings(hdfs.uri("/tok/x"), Map.of("lang-weights", "zh=2"))));
        assertTrue(weights.getMessage().contains("lang-weights"), weights.getMessage());
        UsageException missing = assertThrows(UsageException.class, () -> TrainTokenizerJob.train(spark,
                TrainTokenizerSettings.from(settings(hdfs.uri("/tok/x"), Map.of("input", hdfs.uri("/nowhere"))))));
        assertTrue(missing.getMessage().contains("kept/"), missing.getMessage());
    }

    @Test
    void nullAndEmptyTextsAreSkippedAndCounted() throws Exception {
        spark.sql("SELECT 'a' AS id, 's' AS source, 'en' AS lang, CAST(NULL AS STRING) AS text UNION ALL "
                + "SELECT 'b', 's', 'en', '' UNION ALL SELECT 'c', 's', 'en', 'hello hello world world'")
                .write().mode("overwrite").parquet(hdfs.uri("/badprep/kept"));
        TrainTokenizerJob.Result r = TrainTokenizerJob.train(spark, TrainTokenizerSettings.from(settings(
                hdfs.uri("/tok/bad"), Map.of("input", hdfs.uri("/badprep"), "holdout-fraction", "0.0",
                        "vocab-size", "300", "min-frequency", "1"))));
        assertEquals(2, r.report().get("skipped_documents_without_text").asLong());
        assertEquals(1, r.report().get("training_documents").asLong());
        assertArrayEquals(r.tokenizer().encode("hello"), new int[] {r.tokenizer().tokenId("hello").getAsInt()});
    }
}
