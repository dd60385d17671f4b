package org.sparkmoe.jobs.prepare;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.min;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Exact deduplication: documents whose normalised text ({@link DedupText#exactKey}) is equal form a group; the
 * smallest id is kept, every other member is a duplicate of it. A 64-bit key makes a false match between two
 * different texts about n²/2^65 likely (1e-10 for 100 M documents).
 */
final class ExactDedup {

    private ExactDedup() {}

    /** {@code (id, duplicate_of)} for every document to drop, from documents that passed the earlier stages. */
    static Dataset<Row> duplicates(Dataset<Row> passing) {
        Dataset<Row> keys = passing.select(col(PrepareSchema.ID), col(PrepareSchema.EXACT_KEY));
        Dataset<Row> groups = keys.groupBy(PrepareSchema.EXACT_KEY)
                .agg(min(PrepareSchema.ID).as("keep"), count("*").as("n"))
                .filter(col("n").gt(1));
        return keys.join(groups, PrepareSchema.EXACT_KEY)
                .filter(col(PrepareSchema.ID).notEqual(col("keep")))
                .select(col(PrepareSchema.ID), col("keep").as(PrepareSchema.DUPLICATE_OF));
    }
}
