package org.sparkmoe.jobs.prepare;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.when;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.io.AtomicPublish;
import org.sparkmoe.jobs.io.InputFiles;
import org.sparkmoe.jobs.io.InputFiles.InputFile;
import org.sparkmoe.jobs.spark.JobProgress;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.jobs.spark.SparkSessions;

/**
 * {@code sparkmoe prepare}: clean, language-identify, quality-filter and deduplicate a text corpus.
 *
 * <pre>
 *   read (JSONL / Parquet / text, any Hadoop URI, globs)
 *     → per document: decode → clean → language id → quality rules → dedup keys   (DocumentPipeline)
 *     → duplicate ids → exact dedup → near dedup (MinHash LSH + connected components)
 *     → kept/ + rejected/ (Parquet, sorted by id) + report.json, published atomically
 * </pre>
 * Every input record ends in exactly one of kept/ and rejected/. docs/prepare.md describes each stage.
 */
public final class PrepareJob implements Job {

    private static final Logger LOG = LogManager.getLogger(PrepareJob.class);

    @Override
    public String name() {
        return "prepare";
    }

    @Override
    public String summary() {
        return "clean, language-filter and deduplicate a corpus (JSONL/Parquet/text) into kept/ and rejected/ Parquet";
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        PrepareConfig config = PrepareConfig.from(settings);
        Configuration hadoop = JobHadoop.forJob(settings);
        List<InputFile> files = InputFiles.expand(hadoop, config.inputs());
        LOG.info("prepare: {} input files, {} bytes", files.size(), files.stream().mapToLong(InputFile::length).sum());
        SparkSession spark = SparkSessions.forJob(settings);
        boolean dedup = config.exactDedup() || config.nearDedup();
        try (JobProgress progress = JobProgress.steps(spark, "prepare", dedup ? 3 : 2)) {
            progress.begin("read, clean and filter");
            Dataset<Row> documents = markDuplicateIds(read(spark, config, files))
                    .persist(StorageLevel.MEMORY_AND_DISK());
            progress.done(String.format("%,d records", documents.count()));

            NearDedup.Stats nearStats = new NearDedup.Stats(0, 0, 0);
            if (dedup) {
                progress.begin(config.exactDedup() && config.nearDedup() ? "exact and near dedup"
                        : config.exactDedup() ? "exact dedup" : "near dedup");
                if (config.exactDedup()) {
                    Dataset<Row> exact = ExactDedup.duplicates(passing(documents));
                    documents = mark(documents, exact, PrepareSchema.STAGE_EXACT_DEDUP, "exact_duplicate");
                }
                if (config.nearDedup()) {
                    NearDedup.Result near = NearDedup.duplicates(passing(documents),
                            new LshBands(config.bands(), config.rows()), config.jaccardThreshold(),
                            config.maxIterations());
                    documents = mark(documents, near.duplicates(), PrepareSchema.STAGE_NEAR_DEDUP, "near_duplicate");
                    nearStats = near.stats();
                }
                documents = documents.localCheckpoint();
                progress.done(config.nearDedup() ? String.format("%,d candidate pairs, %,d verified similar",
                        nearStats.candidateEdges(), nearStats.verifiedEdges()) : "duplicates marked");
            } else {
                documents = documents.localCheckpoint();
            }

            progress.begin("write kept/, rejected/ and report.json");
            try (AtomicPublish publish = AtomicPublish.begin(spark.sparkContext().hadoopConfiguration(),
                    config.output())) {
                Path staging = publish.staging();
                write(documents.filter(col(PrepareSchema.STAGE).isNull()), PrepareSchema.KEPT_COLUMNS,
                        new Path(staging, "kept"), config.outputPartitions());
                List<String> rejectedColumns = new ArrayList<>(PrepareSchema.KEPT_COLUMNS);
                rejectedColumns.addAll(PrepareSchema.REJECTED_EXTRA);
                write(documents.filter(col(PrepareSchema.STAGE).isNotNull()), rejectedColumns,
                        new Path(staging, "rejected"), config.outputPartitions());
                String report = PrepareReport.build(documents, files.stream().map(InputFile::uri).toList(), nearStats,
                        config, settings.asMap());
                FileSystem fs = staging.getFileSystem(spark.sparkContext().hadoopConfiguration());
                try (OutputStream out = fs.create(new Path(staging, "report.json"), false)) {
                    out.write(report.getBytes(StandardCharsets.UTF_8));
                }
                publish.commit();
                progress.done(publish.target().toString());
            }
        }
        return 0;
    }

    /** Every input record as a processed document row ({@link PrepareSchema#DOCUMENT}). */
    static Dataset<Row> read(SparkSession spark, PrepareConfig config, List<InputFile> files) {
        DocumentPipeline pipeline = new DocumentPipeline(config);
        RecordDecoder decoder = new RecordDecoder(config);
        int maxRecordBytes = config.maxRecordBytes();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<InputSplit> splits = InputSplit.of(files, config.format(), config.splitBytes());
        JavaRDD<Row> rows = jsc.emptyRDD();
        if (!splits.isEmpty()) {
            rows = jsc.parallelize(splits, splits.size())
                    .flatMap(split -> SplitReader.read(split, decoder, maxRecordBytes))
                    .map(pipeline::process);
        }
        List<String> parquet = files.stream().map(InputFile::uri)
                .filter(uri -> config.format().of(uri) == InputFormat.PARQUET).toList();
        if (!parquet.isEmpty()) {
            rows = rows.union(ParquetInput.read(spark, config, parquet).map(pipeline::process));
        }
        return spark.createDataFrame(rows, PrepareSchema.DOCUMENT);
    }

    /** A second record with an id already seen (by file, then offset) is rejected: ids must be unique. */
    static Dataset<Row> markDuplicateIds(Dataset<Row> documents) {
        Dataset<Row> firsts = documents
                .groupBy(col(PrepareSchema.ID))
                .agg(min(struct(col(PrepareSchema.ORIGIN), col(PrepareSchema.OFFSET))).as("first"),
                        count("*").as("n"))
                .filter(col("n").gt(1))
                .select(col(PrepareSchema.ID).as("dup_id"), col("first"));
        Dataset<Row> joined = documents.join(firsts, documents.col(PrepareSchema.ID).equalTo(firsts.col("dup_id")),
                "left_outer");
        Column later = col("first").isNotNull().and(col("first").notEqual(
                struct(col(PrepareSchema.ORIGIN), col(PrepareSchema.OFFSET))));
        return joined
                .withColumn(PrepareSchema.REASON, when(later, lit(RecordDecoder.DUPLICATE_ID))
                        .otherwise(col(PrepareSchema.REASON)))
                .withColumn(PrepareSchema.STAGE, when(later, lit(PrepareSchema.STAGE_DECODE))
                        .otherwise(col(PrepareSchema.STAGE)))
                .select(PrepareSchema.DOCUMENT.fieldNames()[0], tail(PrepareSchema.DOCUMENT.fieldNames()));
    }

    /** Documents that passed every stage so far. */
    private static Dataset<Row> passing(Dataset<Row> documents) {
        return documents.filter(col(PrepareSchema.STAGE).isNull());
    }

    /** Rejects the documents listed in {@code marks (id, duplicate_of)} at {@code stage}. */
    private static Dataset<Row> mark(Dataset<Row> documents, Dataset<Row> marks, String stage, String reason) {
        Dataset<Row> m = marks.select(col(PrepareSchema.ID).as("mark_id"), col(PrepareSchema.DUPLICATE_OF).as("mark_of"));
        Column hit = col("mark_of").isNotNull().and(col(PrepareSchema.STAGE).isNull());
        return documents.join(m, documents.col(PrepareSchema.ID).equalTo(m.col("mark_id")), "left_outer")
                .withColumn(PrepareSchema.DUPLICATE_OF, when(hit, col("mark_of")).otherwise(col(PrepareSchema.DUPLICATE_OF)))
                .withColumn(PrepareSchema.REASON, when(hit, lit(reason)).otherwise(col(PrepareSchema.REASON)))
                .withColumn(PrepareSchema.STAGE, when(hit, lit(stage)).otherwise(col(PrepareSchema.STAGE)))
                .select(PrepareSchema.DOCUMENT.fieldNames()[0], tail(PrepareSchema.DOCUMENT.fieldNames()));
    }

    /**
     * Writes Parquet deterministically: rows hash-partitioned by id into a fixed number of files and sorted
     * inside each, one encoding per column chunk, then the files renamed from Spark's random names to
     * {@code part-NNNNN.parquet}.
     */
    private static void write(Dataset<Row> rows, List<String> columns, Path dir, int partitions) throws Exception {
        rows.repartition(partitions, col(PrepareSchema.ID))
                .sortWithinPartitions(PrepareSchema.ID, PrepareSchema.ORIGIN, PrepareSchema.OFFSET)
                .select(columns.stream().map(org.apache.spark.sql.functions::col).toArray(Column[]::new))
                .write()
                .option("compression", "zstd")
                // parquet-mr lists each column chunk's encodings from a HashSet of enums, whose order follows
                // identity hash codes and so differs between JVMs. One encoding per chunk (no dictionary, v2
                // pages) makes the footer, and so the file, identical on every run.
                .option("parquet.enable.dictionary", "false")
                .option("parquet.writer.version", "v2")
                .parquet(dir.toString());
        FileSystem fs = dir.getFileSystem(rows.sparkSession().sparkContext().hadoopConfiguration());
        List<FileStatus> parts = new ArrayList<>();
        for (FileStatus f : fs.listStatus(dir)) {
            if (f.getPath().getName().startsWith("part-")) {
                parts.add(f);
            }
        }
        parts.sort((a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
        for (FileStatus f : parts) {
            String index = f.getPath().getName().substring("part-".length(), "part-".length() + 5);
            fs.rename(f.getPath(), new Path(dir, "part-" + index + ".parquet"));
        }
    }

    private static String[] tail(String[] names) {
        return java.util.Arrays.copyOfRange(names, 1, names.length);
    }

}
