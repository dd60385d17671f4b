package org.sparkmoe.jobs.spark;

import java.util.Map;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.JobSettings;

/**
 * Builds the job's SparkSession. Under spark-submit the master and resources come from there; launched directly
 * (bin/sparkmoe, tests, notebooks) it is an embedded local[*] Spark.
 */
public final class SparkSessions {

    private static final Logger LOG = LogManager.getLogger(SparkSessions.class);

    private SparkSessions() {}

    public static SparkSession forJob(JobSettings settings) {
        SparkConf conf = new SparkConf(true);
        for (Map.Entry<String, String> e : settings.sparkConf().entrySet()) {
            conf.set(e.getKey(), e.getValue());
        }
        if (!conf.contains("spark.master")) {
            conf.setMaster("local[*]");
        }
        if (!conf.contains("spark.app.name")) {
            conf.setAppName("sparkmoe-" + settings.jobName());
        }
        // Small local runs should not pay for 200 shuffle partitions.
        if (conf.get("spark.master").startsWith("local") && !conf.contains("spark.sql.shuffle.partitions")) {
            conf.set("spark.sql.shuffle.partitions", String.valueOf(4 * Runtime.getRuntime().availableProcessors()));
        }
        conf.setIfMissing("spark.ui.enabled", "false");
        SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
        LOG.info("Spark {} master={} defaultParallelism={}", spark.version(), conf.get("spark.master"),
                spark.sparkContext().defaultParallelism());
        return spark;
    }
}
