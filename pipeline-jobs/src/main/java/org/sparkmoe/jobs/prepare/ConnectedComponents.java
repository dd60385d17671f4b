package org.sparkmoe.jobs.prepare;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.least;
import static org.apache.spark.sql.functions.min;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Connected components of an undirected graph held as a Spark edge table, by min-label propagation with pointer
 * jumping: every node starts with the smallest id among itself and its neighbours; each round a node takes the
 * smallest label among its neighbours' labels and its label's label. The component id is the smallest node id in
 * the component, so "keep the node whose id is the component id" keeps the smallest id deterministically.
 * Star-shaped LSH edges converge in a few rounds; everything stays on Spark (no driver-side graph).
 */
final class ConnectedComponents {

    private static final Logger LOG = LogManager.getLogger(ConnectedComponents.class);

    static final String NODE = "node";
    static final String COMPONENT = "component";

    private ConnectedComponents() {}

    /**
     * @param edges {@code (src, dst)} string node ids
     * @return {@code (node, component)} for every node that has an edge
     */
    static Dataset<Row> of(Dataset<Row> edges, int maxIterations) {
        Dataset<Row> both = edges.select(col("src"), col("dst"))
                .union(edges.select(col("dst").as("src"), col("src").as("dst")))
                .distinct()
                .localCheckpoint();
        Dataset<Row> labels = both.groupBy(col("src").as(NODE))
                .agg(least(min("dst"), min("src")).as(COMPONENT))
                .localCheckpoint();
        for (int round = 1; round <= maxIterations; round++) {
            Dataset<Row> fromNeighbours = both.join(labels, both.col("dst").equalTo(labels.col(NODE)))
                    .select(both.col("src").as(NODE), labels.col(COMPONENT));
            Dataset<Row> jumped = labels.as("a").join(labels.as("b"), col("a." + COMPONENT).equalTo(col("b." + NODE)))
                    .select(col("a." + NODE).as(NODE), col("b." + COMPONENT).as(COMPONENT));
            Dataset<Row> next = labels.union(fromNeighbours).union(jumped)
                    .groupBy(NODE).agg(min(COMPONENT).as(COMPONENT))
                    .localCheckpoint();
            long changed = next.as("n").join(labels.as("o"), NODE)
                    .filter(col("n." + COMPONENT).notEqual(col("o." + COMPONENT)))
                    .count();
            labels = next;
            LOG.info("connected components: round {} changed {} labels", round, changed);
            if (changed == 0) {
                return labels;
            }
        }
        throw new IllegalStateException("connected components did not converge in " + maxIterations
                + " rounds (dedup.max-iterations): raise it, or raise minhash.jaccard-threshold if near-dup groups"
                + " chain across the corpus");
    }
}
