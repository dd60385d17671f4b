package org.sparkmoe.jobs.prepare;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.input_file_name;
import static org.apache.spark.sql.functions.lit;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * Parquet input: the configured text/id/source/hint columns. A file without the text column is a usage error
 * (the field name is wrong); a null text is a rejected record ({@code missing_text}). Rows without an id get
 * {@code FILE#ROW}, ROW counted over all Parquet inputs in order.
 */
final class ParquetInput {

    private ParquetInput() {}

    static JavaRDD<RawDocument> read(SparkSession spark, PrepareConfig config, List<String> files) {
        PrepareConfig.InputFields f = config.fields();
        Dataset<Row> df = spark.read().parquet(files.toArray(String[]::new));
        Set<String> columns = Set.of(df.columns());
        if (!columns.contains(f.text())) {
            throw new UsageException("Parquet input " + files + " has no column '" + f.text() + "' (columns: "
                    + Arrays.toString(df.columns()) + "); set --input.text-field to the text column");
        }
        Dataset<Row> selected = df.select(
                col(f.text()).cast("string"),
                optional(columns, f.id()),
                optional(columns, f.source()),
                optional(columns, f.hint()),
                input_file_name());
        return selected.javaRDD().zipWithIndex().map(pair -> {
            Row r = pair._1();
            long index = pair._2();
            String origin = r.getString(4);
            String text = r.getString(0);
            String id = r.isNullAt(1) ? origin + "#" + index : r.getString(1);
            String source = r.isNullAt(2) ? origin : r.getString(2);
            long bytes = text == null ? 0 : text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            return new RawDocument(id, source, r.getString(3), text, bytes, origin, index,
                    text == null ? RecordDecoder.MISSING_TEXT : null);
        });
    }

    private static Column optional(Set<String> columns, String name) {
        return columns.contains(name) ? col(name).cast("string") : lit(null).cast("string");
    }
}
