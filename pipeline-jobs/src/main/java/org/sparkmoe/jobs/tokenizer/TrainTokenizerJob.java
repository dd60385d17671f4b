package org.sparkmoe.jobs.tokenizer;

import static org.apache.spark.sql.functions.abs;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.hash;
import static org.apache.spark.sql.functions.lit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.io.AtomicPublish;
import org.sparkmoe.jobs.spark.JobProgress;
import org.sparkmoe.jobs.spark.SparkSessions;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.train.BpeTrainer;

/**
 * {@code sparkmoe train-tokenizer}: learns a byte-level BPE tokenizer from the prepare job's kept documents.
 *
 * <p>Documents whose id hashes into the hold-out fraction are kept out of training; the rest are sampled per language
 * ({@code lang-weights}), their pre-tokens are counted on Spark ({@link PreTokenCounts}), and the merges are learned on
 * the driver ({@link BpeTrainer}). Writes {@code tokenizer.json} (HF format) and {@code report.json} (vocabulary
 * size, training counts, bytes per token per language on the held-out documents) to {@code output}, on any Hadoop
 * filesystem. Documents with a null or empty text are skipped and counted in the report.
 */
public final class TrainTokenizerJob implements Job {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final int HASH_BUCKETS = 1_000_000;

    @Override
    public String name() {
        return "train-tokenizer";
    }

    @Override
    public String summary() {
        return "learn a byte-level BPE tokenizer (HF tokenizer.json) from the prepare output";
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        TrainTokenizerSettings s = TrainTokenizerSettings.from(settings);
        SparkSession spark = SparkSessions.forJob(settings);
        train(spark, s);
        return 0;
    }

    /** What a run produced: the tokenizer and its report. */
    record Result(Tokenizer tokenizer, ObjectNode report) {}

    static Result train(SparkSession spark, TrainTokenizerSettings s) throws IOException {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path kept = new Path(s.input(), "kept");
        if (!kept.getFileSystem(hadoop).exists(kept)) {
            throw new UsageException("input " + s.input() + " has no kept/ directory: give the output directory of"
                    + " the prepare job");
        }
        try (JobProgress progress = JobProgress.steps(spark, "train-tokenizer", 4)) {
            progress.begin("sample training documents");
            Dataset<Row> docs = spark.read().parquet(kept.toString()).select("id", "lang", "text");
            Column nonEmpty = col("text").isNotNull().and(col("text").notEqual(lit("")));
            Column heldOut = abs(hash(col("id"))).mod(HASH_BUCKETS)
                    .lt(lit((long) (s.holdoutFraction() * HASH_BUCKETS)));
            Dataset<Row> training = docs.where(nonEmpty.and(heldOut.unary_$bang()));
            if (!s.languageWeights().isEmpty()) {
                Map<String, Double> fractions = new TreeMap<>();
                for (Row r : docs.select("lang").distinct().collectAsList()) {
                    String lang = r.getString(0);
                    fractions.put(lang, s.languageWeights().getOrDefault(lang, 1.0));
                }
                training = training.stat().sampleBy("lang", fractions, s.seed());
            }
            training = training.cache();
            long trainingDocs = training.count();
            long skipped = docs.where(nonEmpty.unary_$bang()).count();
            progress.done(String.format("%,d documents, %,d without text skipped", trainingDocs, skipped));

            progress.begin("count pre-tokens");
            long started = System.nanoTime();
            Map<String, Long> counts = PreTokenCounts.count(PreTokenCounts.column(training, "text"),
                    s.trainer().preTokenizer());
            double countSeconds = (System.nanoTime() - started) / 1e9;
            training.unpersist();
            progress.done(String.format("%,d distinct pre-tokens", counts.size()));

            progress.begin("merge");
            started = System.nanoTime();
            Tokenizer tokenizer = BpeTrainer.train(counts, s.trainer());
            double mergeSeconds = (System.nanoTime() - started) / 1e9;
            progress.done(String.format("%,d tokens", tokenizer.vocabSize()));

            progress.begin("held-out bytes per token, publish");
            ObjectNode report = JSON.createObjectNode();
            report.put("vocab_size", tokenizer.vocabSize());
            report.put("merges", tokenizer.definition().model().merges().size());
            report.put("training_documents", trainingDocs);
            report.put("skipped_documents_without_text", skipped);
            report.put("distinct_pretokens", counts.size());
            report.put("count_seconds", Math.round(countSeconds * 10) / 10.0);
            report.put("merge_seconds", Math.round(mergeSeconds * 10) / 10.0);
            ObjectNode perLang = report.putObject("heldout_bytes_per_token");
            TokenizerJson trained = TokenizerJson.of(s.output() + "/tokenizer.json", tokenizer.toJson());
            TokenizerCache.put(trained, tokenizer);
            Map<String, long[]> stats = HeldOutStats.measure(
                    docs.where(nonEmpty.and(heldOut)).select("lang", "text"), trained);
            stats.forEach((lang, st) -> {
                ObjectNode o = perLang.putObject(lang);
                o.put("documents", st[0]);
                o.put("bytes", st[1]);
                o.put("tokens", st[2]);
                o.put("bytes_per_token", st[2] == 0 ? 0 : Math.round(1000.0 * st[1] / st[2]) / 1000.0);
            });
            publish(hadoop, new Path(s.output()), trained.json(), JSON.writeValueAsString(report));
            progress.done(s.output() + "/tokenizer.json");
            return new Result(tokenizer, report);
        }
    }

    /** Publishes each file atomically ({@link AtomicPublish}), so readers never see half a tokenizer. */
    private static void publish(Configuration hadoop, Path dir, String tokenizerJson, String reportJson)
            throws IOException {
        FileSystem fs = dir.getFileSystem(hadoop);
        AtomicPublish.writeFile(fs, new Path(dir, "tokenizer.json"),
                out -> out.write(tokenizerJson.getBytes(StandardCharsets.UTF_8)));
        AtomicPublish.writeFile(fs, new Path(dir, "report.json"),
                out -> out.write(reportJson.getBytes(StandardCharsets.UTF_8)));
    }
}
