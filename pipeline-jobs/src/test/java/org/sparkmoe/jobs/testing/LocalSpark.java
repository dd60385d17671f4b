package org.sparkmoe.jobs.testing;

import org.apache.spark.sql.SparkSession;

/** The local Spark that tests share: two cores, like CI, and no UI. */
public final class LocalSpark {

    private LocalSpark() {}

    public static SparkSession get() {
        return SparkSession.builder()
                .master("local[2]")
                .appName("sparkmoe-test")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.driver.host", "localhost")
                .getOrCreate();
    }
}
