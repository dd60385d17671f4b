package org.sparkmoe.jobs.refresh;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.explode;

import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkmoe.jobs.prepare.LshBands;
import scala.jdk.javaapi.CollectionConverters;
import org.sparkmoe.jobs.prepare.MinHashSignature;

/**
 * The persisted deduplication index of everything a dataset has kept: per document its id, an exact key
 * (SHA-256 of the whitespace-collapsed, lower-cased text, first 8 bytes), its LSH band keys and its MinHash
 * signature ({@code _refresh/index/vNNNNN/}, Parquet, one folder per version). A refresh drops a new document
 * that matches a kept one exactly, or shares a band key with one whose estimated Jaccard similarity reaches the
 * threshold; the same MinHash and banding as {@code prepare} (its {@code minhash.*} settings), so "near" means
 * the same thing inside one prepare run and across refreshes.
 */
public final class DedupIndex implements Serializable {

    public static final String REASON_EXACT = "exact_duplicate_of_kept";
    public static final String REASON_NEAR = "near_duplicate_of_kept";

    static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.StringType, false)
            .add("exact_key", DataTypes.LongType, false)
            .add("bands", DataTypes.createArrayType(DataTypes.LongType, false), true)
            .add("signature", DataTypes.BinaryType, true);

    private final MinHashSignature minHash;
    private final LshBands bands;
    private final double threshold;

    public DedupIndex(MinHashSignature minHash, LshBands bands, double threshold) {
        this.minHash = minHash;
        this.bands = bands;
        this.threshold = threshold;
    }

    /** Index rows ({@link #SCHEMA}) for documents with {@code id} and {@code text} columns. */
    public Dataset<Row> fingerprints(Dataset<Row> documents) {
        MinHashSignature m = minHash;
        LshBands b = bands;
        JavaRDD<Row> rows = documents.select("id", "text").javaRDD().map(r -> {
            String text = r.getString(1);
            byte[] signature = m.of(text);
            List<Long> keys = new ArrayList<>();
            if (signature != null) {
                for (long k : b.keys(signature)) {
                    keys.add(k);
                }
            }
            return RowFactory.create(r.getString(0), exactKey(text),
                    signature == null ? null : CollectionConverters.asScala(keys).toSeq(), signature);
        });
        return documents.sparkSession().createDataFrame(rows, SCHEMA);
    }

    /**
     * {@code (id, duplicate_of, reason)} for each new document that duplicates a kept one, exactly or nearly.
     *
     * @param fresh the new documents' fingerprints
     * @param kept  the index of everything kept so far
     */
    public Dataset<Row> duplicatesOfKept(Dataset<Row> fresh, Dataset<Row> kept) {
        Dataset<Row> exact = fresh.join(kept.select(col("exact_key"), col("id").as("kept_id")), "exact_key")
                .groupBy("id").agg(org.apache.spark.sql.functions.min("kept_id").as("duplicate_of"))
                .withColumn("reason", org.apache.spark.sql.functions.lit(REASON_EXACT));
        Dataset<Row> freshBands = fresh.where(col("bands").isNotNull())
                .select(col("id"), col("signature"), explode(col("bands")).as("band"));
        Dataset<Row> keptBands = kept.where(col("bands").isNotNull())
                .select(col("id").as("kept_id"), col("signature").as("kept_signature"), explode(col("bands")).as("band"));
        double t = threshold;
        Dataset<Row> candidates = freshBands.join(keptBands, "band")
                .select("id", "signature", "kept_id", "kept_signature").dropDuplicates("id", "kept_id");
        JavaRDD<Row> similar = candidates.javaRDD()
                .filter(r -> MinHashSignature.estimatedJaccard(r.getAs("signature"), r.getAs("kept_signature")) >= t)
                .map(r -> RowFactory.create(r.<String>getAs("id"), r.<String>getAs("kept_id")));
        Dataset<Row> near = fresh.sparkSession().createDataFrame(similar, new StructType()
                        .add("id", DataTypes.StringType).add("duplicate_of", DataTypes.StringType))
                .groupBy("id").agg(org.apache.spark.sql.functions.min("duplicate_of").as("duplicate_of"))
                .join(exact.select(col("id")), "id", "left_anti")
                .withColumn("reason", org.apache.spark.sql.functions.lit(REASON_NEAR));
        return exact.select("id", "duplicate_of", "reason").unionByName(near.select("id", "duplicate_of", "reason"));
    }

    /** The index of versions 1..{@code upTo} (folders that a crashed refresh left for later versions are ignored). */
    public static Dataset<Row> read(SparkSession spark, FileSystem fs, Path indexRoot, int upTo) throws IOException {
        List<String> dirs = new ArrayList<>();
        for (int v = 1; v <= upTo; v++) {
            Path dir = new Path(indexRoot, DatasetVersions.name(v));
            if (fs.exists(dir)) {
                dirs.add(dir.toString());
            }
        }
        return dirs.isEmpty() ? spark.createDataFrame(List.of(), SCHEMA)
                : spark.read().schema(SCHEMA).parquet(dirs.toArray(String[]::new));
    }

    /** First 8 bytes of SHA-256 over the whitespace-collapsed, lower-cased text: stable across JVMs and versions. */
    static long exactKey(String text) {
        String normal = text.strip().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT);
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(normal.getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(digest).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
