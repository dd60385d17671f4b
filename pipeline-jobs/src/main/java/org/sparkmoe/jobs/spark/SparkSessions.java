package org.sparkmoe.jobs.spark;

import java.util.Map;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.JobSettings;

/**
 * Builds the job's SparkSession. Under spark-submit the master and resources come from there; launched directly
 * (bin/sparkmoe, tests, notebooks) it is an embedded local[*] Spark. A job started inside another (the demo's
 * stages, refresh's prepare and tokenize) runs on the session that is already there.
 *
 * <p>Every {@code spark.*} setting the user gives is respected: spark-submit's {@code --conf} (system properties,
 * read by {@code new SparkConf(true)}), then the job's settings (conf file, {@code --set}, {@code --spark.x}), which
 * win. Nothing is forced: the web UI stays on (Spark's default) unless {@code spark.ui.enabled=false} is set (the
 * test build and the demo set it), and {@code spark.eventLog.*} works as Spark documents it. GPU settings that can
 * never schedule a task are refused naming the setting ({@link GpuScheduling}).
 */
public final class SparkSessions {

    private static final Logger LOG = LogManager.getLogger(SparkSessions.class);

    private SparkSessions() {}

    public static SparkSession forJob(JobSettings settings) {
        SparkSession existing = SparkSession.getActiveSession().getOrElse(() -> SparkSession.getDefaultSession()
                .getOrElse(() -> null));
        SparkSession spark = existing != null && !existing.sparkContext().isStopped()
                ? reuse(existing, settings) : create(settings);
        if (OncePerJvm.first("spark session " + spark.sparkContext().applicationId())) {
            LOG.info("Spark {} master={} defaultParallelism={} ui={}", spark.version(), spark.sparkContext().master(),
                    spark.sparkContext().defaultParallelism(),
                    spark.sparkContext().uiWebUrl().isDefined() ? spark.sparkContext().uiWebUrl().get() : "off");
        }
        return spark;
    }

    private static SparkSession create(JobSettings settings) {
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
        GpuScheduling.check(conf);
        SparkSession spark;
        try {
            spark = SparkSession.builder().config(conf).getOrCreate();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            // SparkContext's constructor throws Spark's checked SparkException, e.g. for impossible GPU amounts.
            if (GpuScheduling.requested(conf)) {
                throw GpuScheduling.explain(conf, e);
            }
            throw new IllegalStateException("Spark did not start: " + e.getMessage(), e);
        }
        return spark;
    }

    /**
     * The running session with the job's Spark settings applied where Spark allows it (runtime SQL settings); a
     * setting that would need a new SparkContext is named in one warning, with the value the session keeps.
     */
    private static SparkSession reuse(SparkSession spark, JobSettings settings) {
        SparkConf running = spark.sparkContext().getConf();
        settings.sparkConf().forEach((key, value) -> {
            if (spark.conf().isModifiable(key)) {
                spark.conf().set(key, value);
            } else if (!value.equals(running.get(key, null))) {
                LOG.warn("{}: {}={} cannot take effect in the Spark session already running in this JVM, which"
                        + " keeps {}; run the job on its own to change it", settings.jobName(), key, value,
                        running.get(key, "Spark's default"));
            }
        });
        return spark;
    }
}
