package org.sparkmoe.notebooks;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.spark.SparkSessions;

/**
 * The Spark session a notebook uses: the project's own session builder with a local master, two cores by default
 * (a notebook shares the machine), or the master in {@code SPARKMOE_SPARK_MASTER}. In Zeppelin use the
 * interpreter's {@code spark} instead.
 */
public final class NotebookSpark {

    /**
     * The Jupyter kernel turns java.util.logging up to its finest level; Janino (Spark's code generator) then
     * formats its trace messages, and one of those formatters throws, failing every generated-code query. Held
     * here because java.util.logging keeps loggers only weakly.
     */
    private static final java.util.logging.Logger JANINO_LOG = java.util.logging.Logger.getLogger("org.codehaus.janino");

    private NotebookSpark() {}

    public static SparkSession local() {
        JANINO_LOG.setLevel(java.util.logging.Level.INFO);
        // Reading a glob makes Spark look for a streaming-sink metadata folder and log a stack trace at WARN.
        Configurator.setLevel("org.apache.spark.sql.execution.streaming.sinks.FileStreamSink", Level.ERROR);
        Map<String, String> conf = new LinkedHashMap<>();
        conf.put("spark.master", System.getenv().getOrDefault("SPARKMOE_SPARK_MASTER", "local[2]"));
        conf.put("spark.app.name", "sparkmoe-notebook");
        conf.put("spark.driver.host", "localhost");
        return SparkSessions.forJob(JobSettings.of("notebook", conf));
    }
}
