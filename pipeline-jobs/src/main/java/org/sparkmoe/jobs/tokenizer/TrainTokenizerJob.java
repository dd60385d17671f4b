package org.sparkmoe.jobs.tokenizer;

import static org.apache.spark.sql.functions.abs;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.hash;
import static org.apache.spark.sql.functions.lit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.spark.SparkSessions;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.train.BpeTrainer;
import scala.Tuple2;

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

    private static final Logger LOG = LogManager.getLogger(TrainTokenizerJob.class);
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
        Result result = train(spark, s);
        LOG.info("train-tokenizer: wrote {}/tokenizer.json ({} tokens) and report.json", s.output(),
                result.tokenizer().vocabSize());
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
        Dataset<Row> docs = spark.read().parquet(kept.toString()).select("id", "lang", "text");
        Column nonEmpty = col("text").isNotNull().and(col("text").notEqual(lit("")));
        Column heldOut = abs(hash(col("id"))).mod(HASH_BUCKETS).lt(lit((long) (s.holdoutFraction() * HASH_BUCKETS)));
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

        long started = System.nanoTime();
        Map<String, Long> counts = PreTokenCounts.count(PreTokenCounts.column(training, "text"),
                s.trainer().preTokenizer());
        double countSeconds = (System.nanoTime() - started) / 1e9;
        training.unpersist();
        LOG.info("train-tokenizer: {} documents, {} distinct pre-tokens counted in {} s", trainingDocs, counts.size(),
                String.format("%.1f", countSeconds));
        started = System.nanoTime();
        Tokenizer tokenizer = BpeTrainer.train(counts, s.trainer());
        double mergeSeconds = (System.nanoTime() - started) / 1e9;

        ObjectNode report = JSON.createObjectNode();
        report.put("vocab_size", tokenizer.vocabSize());
        report.put("merges", tokenizer.definition().model().merges().size());
        report.put("training_documents", trainingDocs);
        report.put("skipped_documents_without_text", skipped);
        report.put("distinct_pretokens", counts.size());
        report.put("count_seconds", Math.round(countSeconds * 10) / 10.0);
        report.put("merge_seconds", Math.round(mergeSeconds * 10) / 10.0);
        ObjectNode perLang = report.putObject("heldout_bytes_per_token");
        Map<String, long[]> stats = HeldOutStats.measure(
                docs.where(nonEmpty.and(heldOut)).select("lang", "text"), tokenizer.toJson());
        stats.forEach((lang, st) -> {
            ObjectNode o = perLang.putObject(lang);
            o.put("documents", st[0]);
            o.put("bytes", st[1]);
            o.put("tokens", st[2]);
            o.put("bytes_per_token", st[2] == 0 ? 0 : Math.round(1000.0 * st[1] / st[2]) / 1000.0);
        });
        publish(hadoop, new Path(s.output()), tokenizer.toJson(), JSON.writeValueAsString(report));
        return new Result(tokenizer, report);
    }

    /** Writes both files under a temporary name, then renames, so readers never see half a tokenizer. */
    private static void publish(Configuration hadoop, Path dir, String tokenizerJson, String reportJson)
            throws IOException {
        FileSystem fs = dir.getFileSystem(hadoop);
        fs.mkdirs(dir);
        for (Tuple2<String, String> file : List.of(new Tuple2<>("tokenizer.json", tokenizerJson),
                new Tuple2<>("report.json", reportJson))) {
            Path target = new Path(dir, file._1());
            Path tmp = new Path(dir, "." + file._1() + ".tmp");
            try (OutputStream out = fs.create(tmp, true)) {
                out.write(file._2().getBytes(StandardCharsets.UTF_8));
            }
            fs.delete(target, false);
            if (!fs.rename(tmp, target)) {
                throw new IOException("cannot rename " + tmp + " to " + target);
            }
        }
    }
}
