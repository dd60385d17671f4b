package org.sparkmoe.jobs.tokenizer;

import static org.apache.spark.sql.functions.col;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * Builds what the prepare job writes ({@code <dir>/kept/}: Parquet with id, source, lang, text) from the shared
 * corpus JSON Lines, with Spark, since the real prepare job is built in parallel. {@code lang_hint} becomes
 * {@code lang}.
 */
final class PrepareOutputFixture {

    private PrepareOutputFixture() {}

    /** Writes the given corpus files (relative to corpus/) as a prepare output under {@code dir}. */
    static void write(SparkSession spark, String dir, String... corpusFiles) {
        String[] paths = new String[corpusFiles.length];
        for (int i = 0; i < paths.length; i++) {
            paths[i] = SharedData.root().resolve("corpus").resolve(corpusFiles[i]).toUri().toString();
        }
        Dataset<Row> docs = spark.read().json(paths)
                .select(col("id"), col("source"), col("lang_hint").as("lang"), col("text"));
        docs.repartition(3).write().mode("overwrite").parquet(dir + "/kept");
    }
}
