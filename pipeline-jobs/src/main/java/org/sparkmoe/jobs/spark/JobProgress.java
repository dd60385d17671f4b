package org.sparkmoe.jobs.spark;

import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;

/**
 * A long job's progress on the console, the same way for every job: its work counted in units (the steps of
 * prepare, tokenize, train-tokenizer, evaluate and refresh; train's rounds), one line as each unit ends with an ETA
 * from the time the finished units took, and, while a step runs Spark tasks, at most one line per
 * {@link #TASK_LINE_INTERVAL} with the tasks done so far (never a line per task):
 *
 * <pre>
 *   prepare step 1/3 read, clean and filter: 34,408 records (70.2 s); ETA 2m20s
 *   prepare step 2/3 deduplicate: 45 of 64 tasks; ETA 1m05s
 *   prepare step 3/3 write kept/, rejected/ and report.json: file:/data/prepared (11.8 s); done in 1m58s
 *   train round 3/30: loss 5.9946  29,739 tok/s  overhead 30%  workers 2; ETA 0m25s
 * </pre>
 *
 * The ETA assumes the units left take as long as the ones done (within a running step, its share of tasks done
 * counts). Task lines follow only the Spark jobs the step's own thread submits (a local property marks them), so
 * a job run inside another (refresh runs prepare) reports its own steps. The job's driver thread calls
 * {@link #begin} and {@link #done}; Spark's listener thread only reads.
 */
public final class JobProgress implements AutoCloseable {

    /** Least time between two lines about the tasks of one running step. */
    public static final Duration TASK_LINE_INTERVAL = Duration.ofSeconds(30);

    private static final Logger LOG = LogManager.getLogger(JobProgress.class);
    /** The Spark local property that marks the stages of the step now running. */
    private static final String STEP_PROPERTY = "sparkmoe.progress.step";
    private static final AtomicLong IDS = new AtomicLong();

    private final String job;
    private final String unit;
    private final int total;
    private final int firstDone;
    private final long startedNanos = System.nanoTime();
    private final SparkContext spark;
    private final String previousStep;
    private final TaskCounter tasks;
    private volatile int done;
    private volatile String step;
    private long stepStartedNanos = startedNanos;

    private JobProgress(SparkSession spark, String job, String unit, int firstDone, int total, Duration taskLines) {
        if (total < 1 || firstDone < 0 || firstDone > total) {
            throw new IllegalArgumentException(job + ": progress of " + firstDone + " of " + total + " " + unit + "s");
        }
        this.job = job;
        this.unit = unit;
        this.firstDone = firstDone;
        this.done = firstDone;
        this.total = total;
        this.spark = spark == null ? null : spark.sparkContext();
        this.previousStep = this.spark == null ? null : this.spark.getLocalProperty(STEP_PROPERTY);
        this.tasks = this.spark == null ? null : new TaskCounter(taskLines.toNanos());
        if (this.spark != null) {
            this.spark.addSparkListener(tasks);
        }
    }

    /** A job of {@code steps} named steps on {@code spark}, whose running tasks are reported too. */
    public static JobProgress steps(SparkSession spark, String job, int steps) {
        return new JobProgress(spark, job, "step", 0, steps, TASK_LINE_INTERVAL);
    }

    /** As {@link #steps(SparkSession, String, int)}, with task lines at most every {@code taskLines}. */
    static JobProgress steps(SparkSession spark, String job, int steps, Duration taskLines) {
        return new JobProgress(spark, job, "step", 0, steps, taskLines);
    }

    /** Rounds {@code firstRound + 1 .. totalRounds} of a job (train), resumed after {@code firstRound}. */
    public static JobProgress rounds(String job, int firstRound, int totalRounds) {
        return new JobProgress(null, job, "round", firstRound, totalRounds, TASK_LINE_INTERVAL);
    }

    /** The next step starts: {@code name} says what it does, in its lines. */
    public void begin(String name) {
        step = name;
        stepStartedNanos = System.nanoTime();
        if (spark != null) {
            String id = job + "#" + IDS.incrementAndGet();
            tasks.follow(id);
            spark.setLocalProperty(STEP_PROPERTY, id);
        }
    }

    /** The running unit ended: one line with what it produced ({@code detail}) and the ETA of the rest. */
    public void done(String detail) {
        long now = System.nanoTime();
        done = Math.min(total, done + 1);
        StringBuilder line = new StringBuilder(position(done));
        line.append(": ").append(detail);
        if (step != null) {
            line.append(String.format(Locale.ROOT, " (%.1f s)", (now - stepStartedNanos) / 1e9));
        }
        line.append(done == total ? "; done in " + format(Duration.ofNanos(now - startedNanos))
                : "; ETA " + eta(done - firstDone, now));
        LOG.info(line.toString());
        step = null;
        if (tasks != null) {
            tasks.follow(null);
        }
    }

    @Override
    public void close() {
        if (spark != null) {
            spark.removeSparkListener(tasks);
            spark.setLocalProperty(STEP_PROPERTY, previousStep);
        }
    }

    /** "prepare step 2/3 deduplicate" or "train round 3/30". */
    private String position(int number) {
        String name = step;
        return job + " " + unit + " " + number + "/" + total + (name == null ? "" : " " + name);
    }

    /** Time left when {@code units} of this run's units are done. */
    private String eta(double units, long now) {
        double elapsed = now - startedNanos;
        double left = total - firstDone - units;
        return units <= 0 ? "unknown" : format(Duration.ofNanos(Math.round(elapsed / units * left)));
    }

    /** "1h02m", "3m05s". */
    public static String format(Duration d) {
        return d.toHours() > 0 ? String.format(Locale.ROOT, "%dh%02dm", d.toHours(), d.toMinutesPart())
                : String.format(Locale.ROOT, "%dm%02ds", d.toMinutes(), d.toSecondsPart());
    }

    /** Counts the tasks of the running step's stages and says how far they are, at most once per interval. */
    private final class TaskCounter extends SparkListener {
        private final long intervalNanos;
        private final Set<Integer> stages = ConcurrentHashMap.newKeySet();
        private final AtomicInteger submitted = new AtomicInteger();
        private final AtomicInteger finished = new AtomicInteger();
        private final AtomicLong lastLine = new AtomicLong(System.nanoTime());
        private volatile String following;

        TaskCounter(long intervalNanos) {
            this.intervalNanos = intervalNanos;
        }

        void follow(String stepId) {
            stages.clear();
            submitted.set(0);
            finished.set(0);
            lastLine.set(System.nanoTime());
            following = stepId;
        }

        @Override
        public void onStageSubmitted(SparkListenerStageSubmitted event) {
            String id = following;
            if (id != null && event.properties() != null && id.equals(event.properties().getProperty(STEP_PROPERTY))) {
                stages.add(event.stageInfo().stageId());
                submitted.addAndGet(event.stageInfo().numTasks());
            }
        }

        @Override
        public void onTaskEnd(SparkListenerTaskEnd event) {
            if (!stages.contains(event.stageId()) || !event.taskInfo().successful()) {
                return;
            }
            int n = finished.incrementAndGet();
            long now = System.nanoTime();
            long last = lastLine.get();
            if (now - last < intervalNanos || !lastLine.compareAndSet(last, now)) {
                return;
            }
            int of = Math.max(n, submitted.get());
            int before = done;
            LOG.info("{}: {} of {} tasks; ETA {}", position(before + 1), n, of,
                    eta(before - firstDone + (double) n / of, now));
        }
    }
}
