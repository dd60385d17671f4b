package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.SparkContext;
import org.apache.spark.rdd.RDD;
import org.apache.spark.scheduler.BarrierJobAllocationFailed$;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.io.AtomicPublish;
import scala.Tuple2;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * The driver's side of {@code sync=barrier} and {@code sync=data-parallel}: one Spark barrier stage per round, whose W
 * tasks ({@link BarrierRound}) synchronise among themselves; the driver sends each round only where things stand
 * ({@link RoundOrder}) and gets back each worker's report, never a vector. It writes the metrics and progress as the
 * driver path does, and publishes the checkpoints the workers filled.
 *
 * <p><b>Retries.</b> Spark aborts the job when a task of a barrier result stage fails, so the driver submits the
 * round again, a new job with all W tasks, up to {@code spark.stage.maxConsecutiveAttempts} times (default 4); the
 * attempt travels in {@link RoundOrder#attempt()} and in the job-local property {@link #ROUND_ATTEMPT_PROPERTY}.
 * (Making the barrier stage a shuffle-map stage, which Spark does retry, is not safe: a task of the failed attempt
 * that succeeded late keeps its output, the new attempt runs fewer than W tasks, and their all-gather waits for ever.)
 * A retry starts from the round state the executors hold ({@link HeldRounds}) when every rank still has it, else from
 * the last checkpoint, replaying the rounds since; either way each round's update is applied once. Each rank's task
 * prefers the executor it ran on last round ({@link BarrierOutcome#location}), where its state is.
 */
final class BarrierRounds {

    private static final Logger LOG = LogManager.getLogger(BarrierRounds.class);

    /** Job-local property: 0 for a round's first barrier stage, n for its n-th resubmission after a failure. */
    static final String ROUND_ATTEMPT_PROPERTY = "sparkmoe.train.round-attempt";

    /** What the rounds of this invocation did. */
    record Result(List<RoundSummary> summaries, long totalTokens) {}

    private final SparkSession spark;
    private final TrainSettings settings;
    private final LocalTrainerFactory engine;
    private final TrainingData data;
    private final RunDirectory run;
    private final CheckpointStore checkpoints;

    BarrierRounds(SparkSession spark, TrainSettings settings, LocalTrainerFactory engine, TrainingData data,
                  RunDirectory run, CheckpointStore checkpoints) {
        this.spark = spark;
        this.settings = settings;
        this.engine = engine;
        this.data = data;
        this.run = run;
        this.checkpoints = checkpoints;
    }

    /** Runs rounds {@code start.completedRounds()} to the last, from {@code startCheckpoint} (empty: a new run). */
    Result run(CheckpointStore.Meta start, Optional<Path> startCheckpoint) throws IOException {
        SparkContext sc = spark.sparkContext();
        int workers = settings.workers();
        BarrierPlan plan = new BarrierPlan(new WorkerPlan(engine, data, run, workers, settings.localSteps(),
                settings.batchSize(), settings.seqLen(), settings.device(), false), settings.sync(),
                settings.outerOptimizer(), settings.outerLearningRate(), settings.outerMomentum(),
                run.uri() + "#" + UUID.randomUUID(), ValidationPlan.of(settings, sc.hadoopConfiguration()));
        int restartRound = start.completedRounds();
        String restartCheckpoint = startCheckpoint.map(Path::toString).orElse(null);
        String[] restartReaders = start.readerStates().clone();
        String[] readerStates = start.readerStates().clone();
        String[] locations = new String[workers];
        long totalTokens = start.tokens();
        ProgressReporter progress = new ProgressReporter(start.completedRounds(), settings.rounds());
        List<RoundSummary> summaries = new ArrayList<>();
        LOG.info("sync={}: {} workers per round synchronise among themselves in a Spark barrier stage", settings.sync(),
                workers);
        if (plan.validation().every() > 0) {
            LOG.info("validation: {} sequences of the validation split after every {} round(s) and the last, {} per"
                    + " forward", plan.validation().sequences(), plan.validation().every(),
                    plan.validation().batchSize());
        }
        CheckpointRetention retention = CheckpointRetention.of(settings, run, checkpoints, start.completedRounds());
        try (MetricsLog metrics = MetricsLog.open(run, start.completedRounds())) {
            for (int round = start.completedRounds(); round < settings.rounds(); round++) {
                long started = System.nanoTime();
                PhaseTimes times = new PhaseTimes();
                BarrierSlots.require(sc, workers, settings.slotWaitSeconds(), settings.sync());
                times.lap("slots");
                boolean checkpointDue = (round + 1) % settings.checkpointEvery() == 0 || round + 1 == settings.rounds();
                // The workers fill the checkpoint's staging directory; it is published once the round succeeded.
                try (AtomicPublish checkpoint = checkpointDue ? checkpoints.begin(round + 1) : null) {
                    RoundOrder order = new RoundOrder(round, readerStates.clone(), restartRound, restartCheckpoint,
                            restartReaders, checkpoint == null ? null : checkpoint.staging().toString(),
                            round + 1 == settings.rounds(), 0);
                    sc.setJobDescription(String.format("sparkmoe train %s: round %d/%d (%d workers x %d local steps,"
                            + " sync=%s)", settings.runId(), round + 1, settings.rounds(), workers,
                            settings.localSteps(), settings.sync()));
                    List<BarrierOutcome> outcomes = stageWithRetries(sc, plan, order, locations);
                    times.lap("tasks");
                    List<WorkerReport> reports = new ArrayList<>();
                    int replayed = 0;
                    for (BarrierOutcome o : outcomes) {
                        reports.add(o.report());
                        readerStates[o.report().worker()] = o.report().readerState();
                        locations[o.report().worker()] = o.location();
                        replayed = Math.max(replayed, o.replayedRounds());
                    }
                    if (replayed > 0) {
                        LOG.warn("round {}: a rank's round state was lost (a retry on another executor, or a lost"
                                + " executor); the workers restarted from {} and replayed {} round(s)", round,
                                restartCheckpoint == null ? "the initial parameters" : restartCheckpoint, replayed);
                    }
                    int contributors = (int) reports.stream().filter(r -> !r.excluded()).count();
                    long roundTokens = reports.stream().mapToLong(WorkerReport::tokens).sum();
                    totalTokens += roundTokens;
                    double seconds = (System.nanoTime() - started) / 1e9;
                    RoundSummary summary = RoundSummary.of(round, reports, contributors, totalTokens, seconds, replayed,
                            times);
                    metrics.record(summary, reports, settings.localSteps());
                    retention.roundDone(summary);
                    summaries.add(summary);
                    progress.roundDone(summary);
                    if (contributors == 0) {
                        throw new IllegalStateException("round " + (round + 1) + " of run " + settings.runId()
                                + ": no worker has finite parameters after its local steps (training diverged), so"
                                + " there is nothing to average; the workers keep no copy of the round's start."
                                + " Resume from the last checkpoint with a lower engine.lr or engine.grad-clip");
                    }
                    if (checkpoint != null) {
                        Path saved = checkpoints.publish(checkpoint,
                                new CheckpointStore.Meta(round + 1, totalTokens, readerStates.clone()),
                                engine.parameterCount(), settings.outerOptimizer(), workers, engine.tokenizerHash());
                        LOG.info("checkpoint {}", saved);
                        restartRound = round + 1;
                        restartCheckpoint = saved.toString();
                        restartReaders = readerStates.clone();
                        retention.prune();
                    }
                }
            }
        } finally {
            sc.setJobDescription(null);
            sc.setLocalProperty(ROUND_ATTEMPT_PROPERTY, null);
        }
        return new Result(summaries, totalTokens);
    }

    /** The round's barrier stage, submitted again after a failure, at most {@code spark.stage.maxConsecutiveAttempts} times. */
    private List<BarrierOutcome> stageWithRetries(SparkContext sc, BarrierPlan plan, RoundOrder first,
                                                  String[] locations) {
        int attempts = sc.conf().getInt("spark.stage.maxConsecutiveAttempts", 4);
        for (RoundOrder order = first; ; order = order.nextAttempt()) {
            sc.setLocalProperty(ROUND_ATTEMPT_PROPERTY, Integer.toString(order.attempt()));
            try {
                return stage(sc, plan, order, locations);
            } catch (UsageException e) {
                throw e;
            } catch (RuntimeException e) {
                if (order.attempt() + 1 >= attempts) {
                    throw new IllegalStateException("round " + (order.round() + 1) + " of run " + settings.runId()
                            + ": its barrier stage failed " + attempts + " times (spark.stage.maxConsecutiveAttempts);"
                            + " the last failure: " + e.getMessage(), e);
                }
                LOG.warn("round {}: the barrier stage failed ({}); submitting it again (attempt {} of {})",
                        order.round() + 1, firstLine(e.getMessage()), order.attempt() + 2, attempts);
                BarrierSlots.require(sc, plan.worker().workers(), settings.slotWaitSeconds(), settings.sync());
            }
        }
    }

    private static String firstLine(String message) {
        String text = String.valueOf(message);
        int end = text.indexOf('\n');
        return end < 0 ? text : text.substring(0, end);
    }

    /** One round's barrier stage; the outcomes by rank. */
    private static List<BarrierOutcome> stage(SparkContext sc, BarrierPlan plan, RoundOrder order, String[] locations) {
        List<Tuple2<Integer, scala.collection.immutable.Seq<String>>> ranks = new ArrayList<>();
        for (int w = 0; w < locations.length; w++) {
            ranks.add(new Tuple2<>(w, CollectionConverters.asScala(
                    locations[w] == null ? List.<String>of() : List.of(locations[w])).toList()));
        }
        RDD<Integer> rankRdd = sc.makeRDD(CollectionConverters.asScala(ranks).toList(), tag(Integer.class));
        RDD<BarrierOutcome> outcomes = rankRdd.barrier().mapPartitions(new Task(plan, order), false,
                tag(BarrierOutcome.class));
        try {
            List<BarrierOutcome> out = new ArrayList<>(outcomes.toJavaRDD().collect());
            out.sort(Comparator.comparingInt(o -> o.report().worker()));
            return out;
        } catch (Exception e) {
            // Spark's exceptions are checked in Java but undeclared; the job's failure reaches here.
            String slotsMessage = BarrierJobAllocationFailed$.MODULE$
                    .ERROR_MESSAGE_BARRIER_REQUIRE_MORE_SLOTS_THAN_CURRENT_TOTAL_NUMBER();
            if (String.valueOf(e.getMessage()).contains(slotsMessage.substring(0, 40))) {
                throw new UsageException("sync=" + plan.sync() + ": the cluster no longer offers "
                        + plan.worker().workers() + " task slots at once for the barrier stage of round "
                        + (order.round() + 1) + ": " + e.getMessage(), e);
            }
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException("round " + (order.round() + 1) + " failed: " + e.getMessage(), e);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> ClassTag<T> tag(Class<T> type) {
        return (ClassTag<T>) ClassTag$.MODULE$.apply(type);
    }

    /** The function each barrier task runs: its partition holds its rank. */
    private static final class Task extends AbstractFunction1<Iterator<Integer>, Iterator<BarrierOutcome>>
            implements Serializable {

        private final BarrierPlan plan;
        private final RoundOrder order;

        Task(BarrierPlan plan, RoundOrder order) {
            this.plan = plan;
            this.order = order;
        }

        @Override
        public Iterator<BarrierOutcome> apply(Iterator<Integer> partition) {
            int rank = partition.next();
            try {
                return CollectionConverters.asScala(List.of(BarrierRound.run(plan, order, rank)).iterator());
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }
}
