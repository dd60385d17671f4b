package org.sparkmoe.notebooks;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.spark.SparkSessions;

/**
 * The Spark session a notebook uses: the project's own session builder with a local master, two cores by default
 * (a notebook shares the machine), or the master in {@code SPARKMOE_SPARK_MASTER}. In Zeppelin use the
 * interpreter's {@code spark} instead.
 */
public final class NotebookSpark {

    private NotebookSpark() {}

    public static SparkSession local() {
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("spark.master", System.getenv().getOrDefault("SPARKMOE_SPARK_MASTER", "local[2]"));
        conf.put("spark.app.name", "sparkmoe-notebook");
        conf.put("spark.driver.host", "localhost");
        return SparkSessions.forJob(JobSettings.of("notebook", conf));
    }
}
