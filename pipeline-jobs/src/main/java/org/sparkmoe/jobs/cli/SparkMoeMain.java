package org.sparkmoe.jobs.cli;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Entry point of {@code bin/sparkmoe} and of {@code spark-submit --class org.sparkmoe.jobs.cli.SparkMoeMain}.
 *
 * <pre>
 *   sparkmoe help                      list the jobs
 *   sparkmoe JOB --help                every option of JOB with its default
 *   sparkmoe JOB [--config FILE] [--set key=value]... [--key value]...
 * </pre>
 * Exit status: 0 success, 1 the job failed, 2 bad input (the message says what to fix).
 */
public final class SparkMoeMain {

    private static final Logger LOG = LogManager.getLogger(SparkMoeMain.class);

    private SparkMoeMain() {}

    public static void main(String[] args) {
        int status = run(args);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** Runs one command and returns its exit status; never calls {@code System.exit}. */
    public static int run(String... args) {
        Map<String, Job> jobs = jobs();
        if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
            System.out.print(overview(jobs));
            return args.length == 0 ? 2 : 0;
        }
        Job job = jobs.get(args[0]);
        if (job == null) {
            System.err.println("sparkmoe: unknown job '" + args[0] + "'; known jobs: " + String.join(", ", jobs.keySet())
                    + ". Run 'sparkmoe help'.");
            return 2;
        }
        List<String> rest = Arrays.asList(args).subList(1, args.length);
        if (rest.contains("--help") || rest.contains("-h")) {
            System.out.print(JobHelp.render(job));
            return 0;
        }
        try {
            JobSettings settings = JobSettings.resolve(job, rest);
            LOG.info("job {} with {}", job.name(), settings.asMap());
            return job.run(settings);
        } catch (UsageException e) {
            System.err.println("sparkmoe " + job.name() + ": " + e.getMessage());
            return 2;
        } catch (Exception e) {
            LOG.error("job {} failed", job.name(), e);
            System.err.println("sparkmoe " + job.name() + " failed: " + e);
            return 1;
        }
    }

    /** Every job on the classpath, by name. */
    public static Map<String, Job> jobs() {
        Map<String, Job> jobs = new TreeMap<>();
        ServiceLoader.load(Job.class).stream().map(ServiceLoader.Provider::get)
                .sorted(Comparator.comparing(Job::name))
                .forEach(job -> {
                    Job previous = jobs.put(job.name(), job);
                    if (previous != null) {
                        throw new IllegalStateException("two jobs are named " + job.name() + ": "
                                + previous.getClass().getName() + " and " + job.getClass().getName());
                    }
                });
        return jobs;
    }

    private static String overview(Map<String, Job> jobs) {
        StringBuilder out = new StringBuilder("""
                usage: sparkmoe JOB [--config FILE] [--set key=value]... [--key value]...
                       sparkmoe JOB --help

                Runs on an embedded local Spark (local[*]) and the local filesystem unless spark.master is set
                (spark-submit sets it). Paths are any Hadoop filesystem URI: file://, hdfs://, s3a://, ...

                jobs:
                """);
        jobs.values().forEach(job -> out.append(String.format("  %-16s %s%n", job.name(), job.summary())));
        return out.toString();
    }
}
