package org.sparkmoe.notebooks;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat_ws;
import static org.apache.spark.sql.functions.hash;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.length;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.charts.Charts;

/**
 * What a corpus holds, for notebook 1: language mix, length distributions, rejection reasons, sample documents.
 *
 * <p>Two inputs: a raw corpus in JSON Lines ({@code id, source, lang_hint, text}; the language is the source's
 * hint, not a detected one) or the output of {@code prepare} ({@code kept/} and {@code rejected/} Parquet with
 * {@code lang}, and {@code stage}, {@code reason} for the rejected, per docs/architecture.md). Lengths are in
 * characters (Unicode code points, Spark's {@code length}).
 */
public final class CorpusExplorer {

    private final Dataset<Row> documents;
    private final Optional<Dataset<Row>> rejected;
    private final String description;

    private CorpusExplorer(Dataset<Row> documents, Optional<Dataset<Row>> rejected, String description) {
        this.documents = documents.select(col("id"), col("source"), col("lang"), col("text"),
                length(col("text")).as("chars")).cache();
        this.rejected = rejected.map(Dataset::cache);
        this.description = description;
    }

    /** A raw JSON Lines corpus, any Hadoop URI or glob, e.g. {@code ../shared/corpus/train/*.jsonl}. */
    public static CorpusExplorer rawJsonl(SparkSession spark, String uriOrGlob) {
        Dataset<Row> raw = spark.read().json(uriOrGlob);
        List<String> columns = Arrays.asList(raw.columns());
        for (String needed : List.of("id", "source", "lang_hint", "text")) {
            if (!columns.contains(needed)) {
                throw new IllegalArgumentException(uriOrGlob + " has no '" + needed + "' field (it has " + columns
                        + "): a raw corpus is JSON Lines with id, source, lang_hint, text");
            }
        }
        return new CorpusExplorer(raw.withColumnRenamed("lang_hint", "lang"), Optional.empty(),
                "raw corpus " + uriOrGlob + " (languages are source hints)");
    }

    /** The output directory of {@code prepare}: {@code kept/} and, if present, {@code rejected/}. */
    public static CorpusExplorer prepared(SparkSession spark, String outputUri) throws IOException {
        Path kept = new Path(outputUri, "kept");
        Path rejectedDir = new Path(outputUri, "rejected");
        FileSystem fs = kept.getFileSystem(spark.sparkContext().hadoopConfiguration());
        if (!fs.exists(kept)) {
            throw new IllegalArgumentException(outputUri + " has no kept/ directory: give the --output of a finished"
                    + " 'sparkmoe prepare' run");
        }
        Optional<Dataset<Row>> rejected = fs.exists(rejectedDir)
                ? Optional.of(spark.read().parquet(rejectedDir.toString())) : Optional.empty();
        return new CorpusExplorer(spark.read().parquet(kept.toString()), rejected, "prepare output " + outputUri);
    }

    public String description() {
        return description;
    }

    /** Number of documents (kept documents for a prepare output). */
    public long documents() {
        return documents.count();
    }

    /** Documents per language, largest first. */
    public Map<String, Long> documentsByLanguage() {
        return descending(documents.groupBy("lang").agg(count(lit(1)).as("n")));
    }

    /** Characters per language, largest first. */
    public Map<String, Long> charactersByLanguage() {
        return descending(documents.groupBy("lang").agg(sum("chars").as("n")));
    }

    /** Every document length in characters, per language (ascending): small corpora fit on the driver. */
    public Map<String, double[]> lengthsByLanguage() {
        Map<String, List<Integer>> byLang = new TreeMap<>();
        for (Row r : documents.select("lang", "chars").collectAsList()) {
            byLang.computeIfAbsent(String.valueOf(r.<String>getAs("lang")), k -> new ArrayList<>()).add(r.getAs("chars"));
        }
        Map<String, double[]> out = new LinkedHashMap<>();
        byLang.forEach((lang, lengths) -> out.put(lang, lengths.stream().mapToDouble(Integer::doubleValue).sorted().toArray()));
        return out;
    }

    /** Length quantiles per language. */
    public Map<String, LengthSummary> lengthSummary() {
        Map<String, LengthSummary> out = new LinkedHashMap<>();
        lengthsByLanguage().forEach((lang, sorted) -> out.put(lang, LengthSummary.of(sorted)));
        return out;
    }

    /** Rejected documents per {@code stage/reason}, largest first; empty for a raw corpus. */
    public Map<String, Long> rejectedByReason() {
        return rejected.map(r -> descending(r.groupBy(concat_ws("/", col("stage"), col("reason")).as("key"))
                .agg(count(lit(1)).as("n")))).orElse(Map.of());
    }

    /** {@code n} documents of one language, a deterministic sample for a seed; texts cut to {@code maxChars}. */
    public List<String> sample(String lang, int n, long seed, int maxChars) {
        List<String> out = new ArrayList<>();
        for (Row r : documents.where(col("lang").equalTo(lang)).orderBy(hash(col("id"), lit(seed)))
                .limit(n).select("id", "text").collectAsList()) {
            String text = r.getString(1);
            out.add(r.getString(0) + ": " + (text.length() > maxChars ? text.substring(0, maxChars) + " ..." : text));
        }
        return out;
    }

    public BufferedImage languageMixChart() {
        return Charts.bars("Documents per language — " + description, "language", "documents", documentsByLanguage());
    }

    public BufferedImage lengthChart() {
        return Charts.log10Histogram("Document length per language", "characters", lengthsByLanguage(), 25);
    }

    public BufferedImage rejectionChart() {
        return Charts.bars("Rejected documents by stage/reason", "stage/reason", "documents", rejectedByReason());
    }

    /** {@code key, n} rows as a map, largest n first, ties by key. */
    private static Map<String, Long> descending(Dataset<Row> keyCounts) {
        Map<String, Long> out = new LinkedHashMap<>();
        keyCounts.collectAsList().stream()
                .sorted((a, b) -> {
                    int byCount = Long.compare(((Number) b.get(1)).longValue(), ((Number) a.get(1)).longValue());
                    return byCount != 0 ? byCount : String.valueOf(a.get(0)).compareTo(String.valueOf(b.get(0)));
                })
                .forEach(r -> out.put(String.valueOf(r.get(0)), ((Number) r.get(1)).longValue()));
        return out;
    }
}
