package org.sparkmoe.jobs.prepare;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.udf;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Near-duplicate removal: banded MinHash keys → documents sharing a band key form a bucket → star edges from
 * every member to the bucket's smallest id → edges whose estimated Jaccard similarity is below the threshold are
 * dropped → {@link ConnectedComponents} → in each component the smallest id is kept. Only (band, key, id) rows and
 * edges are shuffled, never texts; signatures join the edges once for verification.
 */
final class NearDedup {

    /** What the stage found, for the report. */
    record Stats(long bucketsWithCandidates, long candidateEdges, long verifiedEdges) {}

    /** The documents to drop and the stage's statistics. */
    record Result(Dataset<Row> duplicates, Stats stats) {}

    /** Unregistered: a named function would be re-registered, with Spark's warning, by every run in a session. */
    private static final UserDefinedFunction JACCARD = udf(
            (UDF2<byte[], byte[], Double>) MinHashSignature::estimatedJaccard, DataTypes.DoubleType);

    private NearDedup() {}

    /** @param passing documents with {@code id} and {@code _signature} (null signatures are skipped) */
    static Result duplicates(Dataset<Row> passing, LshBands lsh, double jaccardThreshold,
                             int maxIterations) {
        Dataset<Row> signatures = passing.filter(col(PrepareSchema.SIGNATURE).isNotNull())
                .select(col(PrepareSchema.ID), col(PrepareSchema.SIGNATURE));
        StructType bandSchema = new StructType().add("band", DataTypes.IntegerType).add("key", DataTypes.LongType)
                .add(PrepareSchema.ID, DataTypes.StringType);
        Dataset<Row> bands = signatures.flatMap((FlatMapFunction<Row, Row>) row -> {
            long[] keys = lsh.keys(row.getAs(PrepareSchema.SIGNATURE));
            List<Row> out = new ArrayList<>(keys.length);
            for (int b = 0; b < keys.length; b++) {
                out.add(RowFactory.create(b, keys[b], row.getAs(PrepareSchema.ID)));
            }
            return out.iterator();
        }, Encoders.row(bandSchema));
        Dataset<Row> buckets = bands.groupBy("band", "key")
                .agg(min(PrepareSchema.ID).as("root"), count("*").as("n"))
                .filter(col("n").gt(1))
                .select(col("band").as("bucket_band"), col("key").as("bucket_key"), col("root"))
                .localCheckpoint();
        Dataset<Row> candidates = bands.join(buckets, col("band").equalTo(col("bucket_band"))
                        .and(col("key").equalTo(col("bucket_key"))))
                .filter(col(PrepareSchema.ID).notEqual(col("root")))
                .select(col(PrepareSchema.ID).as("src"), col("root").as("dst"))
                .distinct()
                .localCheckpoint();
        Dataset<Row> verified = candidates
                .join(signatures.withColumnRenamed(PrepareSchema.ID, "s").withColumnRenamed(PrepareSchema.SIGNATURE, "sig_s"),
                        col("src").equalTo(col("s")))
                .join(signatures.withColumnRenamed(PrepareSchema.ID, "d").withColumnRenamed(PrepareSchema.SIGNATURE, "sig_d"),
                        col("dst").equalTo(col("d")))
                .filter(JACCARD.apply(col("sig_s"), col("sig_d")).geq(jaccardThreshold))
                .select("src", "dst")
                .localCheckpoint();
        Stats stats = new Stats(buckets.count(), candidates.count(), verified.count());
        Dataset<Row> components = ConnectedComponents.of(verified, maxIterations);
        Dataset<Row> duplicates = components
                .filter(col(ConnectedComponents.NODE).notEqual(col(ConnectedComponents.COMPONENT)))
                .select(col(ConnectedComponents.NODE).as(PrepareSchema.ID),
                        col(ConnectedComponents.COMPONENT).as(PrepareSchema.DUPLICATE_OF));
        return new Result(duplicates, stats);
    }
}
