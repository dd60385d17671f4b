package org.sparkmoe.jobs.spark;

import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.deploy.SparkHadoopUtil;
import org.sparkmoe.jobs.cli.JobSettings;

/**
 * The Hadoop settings a job opens its paths with, the same wherever it opens them: the ones Spark gives a
 * SparkSession's {@code hadoopConfiguration()} (Hadoop's defaults and site files, plus every {@code spark.hadoop.*}
 * setting with the prefix dropped), built by Spark's own {@code SparkHadoopUtil}. A job that has a SparkSession uses
 * its {@code hadoopConfiguration()}; a job without one (score, inspect, encode, ...) uses {@link #forJob}; code in a
 * Spark task uses {@link #current()}, which carries the driver's {@code spark.hadoop.*} to the executors.
 */
public final class JobHadoop {

    /** {@link #current()}'s result for the SparkEnv it was built from (tasks ask for it often). */
    private record ForEnv(SparkEnv env, Configuration conf) {}

    private static volatile ForEnv cached;

    private JobHadoop() {}

    /** For a job that starts no SparkSession: its {@code spark.*} settings over spark-submit's (system properties). */
    public static Configuration forJob(JobSettings settings) {
        return configuration(settings.sparkConf());
    }

    /** From {@code spark.*} settings, over the {@code spark.*} system properties (spark-submit's {@code --conf}). */
    public static Configuration configuration(Map<String, String> sparkSettings) {
        SparkConf conf = new SparkConf(true);
        sparkSettings.forEach(conf::set);
        return SparkHadoopUtil.get().newConfiguration(conf);
    }

    /**
     * The running Spark application's Hadoop settings (on the driver or in an executor, whose SparkConf is the
     * driver's), or the {@code spark.*} system properties' when no Spark runs in this JVM. Callers only read it.
     */
    public static Configuration current() {
        SparkEnv env = SparkEnv.get();
        if (env == null) {
            return configuration(Map.of());
        }
        ForEnv last = cached;
        if (last == null || last.env() != env) {
            last = new ForEnv(env, SparkHadoopUtil.get().newConfiguration(env.conf()));
            cached = last;
        }
        return last.conf();
    }
}
