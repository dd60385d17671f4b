package org.sparkmoe.jobs.spark;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorAdded;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * Spark GPU scheduling mistakes turned into an end with a message that names the setting to change. Spark refuses
 * some at start (a task asking for more GPUs than an executor has: its exception gets our hint), but waits forever
 * for others: a discovery script that prints nothing or fewer addresses than asked leaves a worker (or executor)
 * without GPUs, and an executor asking for more GPUs than a worker has is never started, while the driver repeats
 * "Initial job has not accepted any resources". {@link #check} refuses what the settings alone show (an executor
 * asking for more than a worker's {@code spark.worker.resource.gpu.amount}); {@link #watch} ends a job whose stage
 * waits with no executor holding a GPU.
 */
public final class GpuScheduling {

    static final String TASK_AMOUNT = "spark.task.resource.gpu.amount";
    static final String EXECUTOR_AMOUNT = "spark.executor.resource.gpu.amount";
    static final String WORKER_AMOUNT = "spark.worker.resource.gpu.amount";
    static final String EXECUTOR_SCRIPT = "spark.executor.resource.gpu.discoveryScript";
    static final String WORKER_SCRIPT = "spark.worker.resource.gpu.discoveryScript";

    private static final Logger LOG = LogManager.getLogger(GpuScheduling.class);

    private GpuScheduling() {}

    /** True when tasks ask Spark for GPUs on a cluster (local[*] has no GPU scheduling). */
    static boolean requested(SparkConf conf) {
        return conf.contains(TASK_AMOUNT) && !conf.get("spark.master", "local").startsWith("local[")
                && !conf.get("spark.master", "local").equals("local");
    }

    /**
     * Refuses GPU settings that can never start an executor, before Spark starts: an executor amount larger than
     * the worker amount set in the same configuration (Spark would wait forever; its standalone master only logs
     * "requires more resource than any of Workers could have").
     */
    static void check(SparkConf conf) {
        if (!requested(conf) || !conf.contains(EXECUTOR_AMOUNT) || !conf.contains(WORKER_AMOUNT)) {
            return;
        }
        double executor = amount(conf, EXECUTOR_AMOUNT);
        double worker = amount(conf, WORKER_AMOUNT);
        if (executor > worker) {
            throw new UsageException(EXECUTOR_AMOUNT + "=" + conf.get(EXECUTOR_AMOUNT) + " is more than the GPUs of a"
                    + " worker (" + WORKER_AMOUNT + "=" + conf.get(WORKER_AMOUNT) + "): no worker can start an executor,"
                    + " and Spark would wait forever (its master logs 'requires more resource than any of Workers could"
                    + " have'). Lower " + EXECUTOR_AMOUNT + " to at most " + conf.get(WORKER_AMOUNT) + ". " + advice(conf));
        }
    }

    /**
     * Refuses tasks that share a GPU where each must have one of its own: NCCL runs one rank per device and refuses
     * a second rank on the same GPU ("Duplicate GPU detected"), which a barrier stage would only show after it built
     * every rank's engine, and then on every retry.
     */
    public static void requireWholeGpus(SparkConf conf, String what) {
        if (requested(conf) && amount(conf, TASK_AMOUNT) < 1) {
            throw new UsageException(what + " runs one NCCL rank per GPU, and NCCL refuses two ranks on one device, but "
                    + TASK_AMOUNT + "=" + conf.get(TASK_AMOUNT) + " lets tasks share a GPU: set " + TASK_AMOUNT
                    + "=1 (one task per GPU), or train the workers that share GPUs with sync=driver");
        }
    }

    /** Spark's own refusal to start with these GPU settings, and ours naming what to change. */
    static UsageException explain(SparkConf conf, Exception spark) {
        return new UsageException("Spark cannot start with the GPU settings: " + spark.getMessage() + ". "
                + advice(conf), spark);
    }

    /** Every GPU setting that decides whether a task gets a GPU, with its value, and what it must be. */
    static String advice(SparkConf conf) {
        List<String> scripts = new ArrayList<>();
        for (String key : List.of(WORKER_SCRIPT, EXECUTOR_SCRIPT)) {
            if (conf.contains(key)) {
                scripts.add(key + "=" + conf.get(key));
            }
        }
        return "Check the GPU settings: the discovery script (" + (scripts.isEmpty()
                ? WORKER_SCRIPT + " or " + EXECUTOR_SCRIPT + ", unset here" : String.join(", ", scripts))
                + ") must print {\"name\":\"gpu\",\"addresses\":[\"0\",...]} on every worker, with at least "
                + EXECUTOR_AMOUNT + " (" + conf.get(EXECUTOR_AMOUNT, "unset") + ") addresses; an empty output leaves"
                + " the worker without GPUs (its log says 'Failed to setup worker resources' or 'Error running the"
                + " resource discovery script'). " + EXECUTOR_AMOUNT + " must be at most the GPUs of one worker ("
                + WORKER_AMOUNT + "=" + conf.get(WORKER_AMOUNT, "unset") + "), and " + TASK_AMOUNT + " ("
                + conf.get(TASK_AMOUNT, "unset") + ") at most " + EXECUTOR_AMOUNT + ".";
    }

    private static double amount(SparkConf conf, String key) {
        try {
            return Double.parseDouble(conf.get(key).strip());
        } catch (NumberFormatException e) {
            throw new UsageException(key + "=" + conf.get(key) + " is not a number of GPUs");
        }
    }

    /** A GPU job's {@code gpu-wait-seconds} setting: how long {@link #watch} lets a stage wait. */
    public static Duration waitSetting(JobSettings settings) {
        long seconds = settings.longValue("gpu-wait-seconds");
        settings.require(seconds >= 0, "gpu-wait-seconds", "0 (wait as long as Spark does) or more");
        return Duration.ofSeconds(seconds);
    }

    /** A running {@link #watch}; closing it stops watching. */
    public interface Watch extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Ends a Spark job whose stage has started no task for {@code wait} while no executor holding a GPU has
     * registered: the job is cancelled with Spark's own account of the wait and {@link #advice}. Nothing is watched
     * when the application asks for no task GPUs, runs in local mode, or {@code wait} is zero.
     */
    public static Watch watch(SparkContext sc, Duration wait) {
        SparkConf conf = sc.getConf();
        if (!requested(conf) || wait.isZero()) {
            return () -> { };
        }
        double perTask = amount(conf, TASK_AMOUNT);
        Map<Integer, Long> waitingSince = new ConcurrentHashMap<>();
        Map<Integer, Integer> jobOfStage = new ConcurrentHashMap<>();
        Set<String> gpuExecutors = ConcurrentHashMap.newKeySet();
        SparkListener listener = new SparkListener() {
            @Override
            public void onExecutorAdded(SparkListenerExecutorAdded added) {
                scala.Option<ResourceInformation> gpu = added.executorInfo().resourcesInfo().get("gpu");
                if (gpu.isDefined() && gpu.get().addresses().length >= Math.ceil(perTask)) {
                    gpuExecutors.add(added.executorId());
                }
            }

            @Override
            public void onExecutorRemoved(SparkListenerExecutorRemoved removed) {
                gpuExecutors.remove(removed.executorId());
            }

            @Override
            public void onJobStart(SparkListenerJobStart start) {
                start.stageInfos().foreach(stage -> jobOfStage.put(stage.stageId(), start.jobId()));
            }

            @Override
            public void onStageSubmitted(SparkListenerStageSubmitted submitted) {
                waitingSince.put(submitted.stageInfo().stageId(), System.nanoTime());
            }

            @Override
            public void onTaskStart(SparkListenerTaskStart start) {
                waitingSince.remove(start.stageId());
            }

            @Override
            public void onStageCompleted(SparkListenerStageCompleted completed) {
                waitingSince.remove(completed.stageInfo().stageId());
            }
        };
        sc.addSparkListener(listener);
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sparkmoe-gpu-scheduling-watch");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            long now = System.nanoTime();
            waitingSince.forEach((stage, since) -> {
                if (gpuExecutors.isEmpty() && now - since > wait.toNanos()) {
                    waitingSince.remove(stage);
                    String reason = "no task of stage " + stage + " started in " + wait.toSeconds() + " s and no"
                            + " executor with a Spark 'gpu' resource registered; Spark would wait forever, repeating"
                            + " 'Initial job has not accepted any resources; check your cluster UI to ensure that"
                            + " workers are registered and have sufficient resources'. " + advice(conf);
                    LOG.error(reason);
                    Integer job = jobOfStage.get(stage);
                    if (job != null) {
                        sc.cancelJob(job, reason);
                    } else {
                        sc.cancelStage(stage, reason);
                    }
                }
            });
        }, 1, 1, TimeUnit.SECONDS);
        return () -> {
            timer.shutdownNow();
            sc.removeSparkListener(listener);
        };
    }
}
