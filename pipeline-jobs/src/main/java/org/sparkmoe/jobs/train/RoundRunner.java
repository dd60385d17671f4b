package org.sparkmoe.jobs.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.io.AtomicPublish;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.spark.GpuScheduling;

/**
 * The driver's round protocol. Round r: broadcast the global parameters; W tasks each run H local steps from them
 * ({@link WorkerRound}); a tree aggregation brings the sum of their parameters to the driver; the outer optimiser
 * (plain averaging or DiLoCo's Nesterov step) makes the next global parameters. Every {@code checkpoint-every}
 * rounds the state is checkpointed atomically; {@code resume} continues from the newest checkpoint.
 *
 * <p>Exactly-once: a task's result counts once however often Spark retries it (aggregation results come only from
 * the successful attempt of each partition), and a retry recomputes from the same broadcast and the same
 * previous-round state files, so it returns the same update.
 *
 * <p>That is {@code sync=driver}. With {@code sync=barrier} or {@code data-parallel} the same checks, run directory,
 * metrics and checkpoints go with rounds in which the workers synchronise among themselves ({@link BarrierRounds}),
 * and the driver never holds a parameter vector.
 */
public final class RoundRunner {

    private static final Logger LOG = LogManager.getLogger(RoundRunner.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final SparkSession spark;
    private final TrainSettings settings;
    private final LocalTrainerFactory engine;
    private final TrainingData data;
    private final RunDirectory run;
    private final Map<String, String> resolvedConfig;

    public RoundRunner(SparkSession spark, TrainSettings settings, LocalTrainerFactory engine, TrainingData data,
                       RunDirectory run, Map<String, String> resolvedConfig) {
        this.spark = spark;
        this.settings = settings;
        this.engine = engine;
        this.data = data;
        this.run = run;
        this.resolvedConfig = Map.copyOf(resolvedConfig);
    }

    public TrainResult run() throws IOException {
        checkDataFitsModel();
        FileSystem fs = run.fileSystem();
        CheckpointStore checkpoints = new CheckpointStore(run);
        if (settings.syncInBarrier()) {
            return runInBarrierStages(fs, checkpoints);
        }
        try {
            LocalTrainer.arrayStateSize(engine.parameterCount());
        } catch (IllegalStateException e) {
            throw new UsageException("sync=driver cannot train model " + settings.model() + ": " + e.getMessage(), e);
        }
        // The driver holds parameter vectors and the outer optimiser's state only, never an engine.
        float[] params_P = engine.initialParameters();
        int parameterCount = params_P.length;
        OuterOptimizer outer = OuterOptimizer.create(settings.outerOptimizer(), parameterCount,
                settings.outerLearningRate(), settings.outerMomentum());
        ResumeState state = settings.resume() ? resumeFrom(checkpoints, parameterCount) : startNew(fs, params_P);
        outer.restore(state.outerState());
        params_P = state.params_P();

        WorkerPlan plan = new WorkerPlan(engine, data, run, settings.workers(), settings.localSteps(),
                settings.batchSize(), settings.seqLen(), settings.device(), settings.averageOptimizerState());
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<Integer> workerIds = IntStream.range(0, settings.workers()).boxed().toList();
        ProgressReporter progress = new ProgressReporter(state.completedRounds(), settings.rounds());
        List<RoundSummary> summaries = new ArrayList<>();
        float[] averagedOptimizerState = state.averagedOptimizerState();
        String[] readerStates = state.readerStates().clone();
        String priorStates = state.workerStatesDir();
        long totalTokens = state.tokens();
        long runStarted = System.nanoTime();
        CheckpointRetention retention = CheckpointRetention.of(settings, run, checkpoints, state.completedRounds());
        try (MetricsLog metrics = MetricsLog.open(run, state.completedRounds())) {
            for (int round = state.completedRounds(); round < settings.rounds(); round++) {
                long started = System.nanoTime();
                PhaseTimes times = new PhaseTimes();
                Broadcast<RoundBroadcast> broadcast = sc.broadcast(
                        new RoundBroadcast(round, params_P, averagedOptimizerState, readerStates, priorStates));
                times.lap("broadcast");
                sc.setJobDescription(String.format("sparkmoe train %s: round %d/%d (%d workers x %d local steps)",
                        settings.runId(), round + 1, settings.rounds(), settings.workers(), settings.localSteps()));
                RoundUpdate update = sc.parallelize(workerIds, settings.workers())
                        .map(w -> WorkerRound.run(plan, broadcast, w))
                        .treeAggregate(RoundUpdate.empty(), RoundUpdate::merge, RoundUpdate::merge,
                                settings.aggregationDepth());
                broadcast.destroy();
                times.lap("tasks");
                if (update.contributors() > 0) {
                    outer.apply(params_P, update.meanParameters());
                    if (settings.averageOptimizerState()) {
                        averagedOptimizerState = update.meanOptimizerState();
                    }
                } else {
                    LOG.warn("round {}: no worker returned finite parameters; the global parameters stay as they were", round);
                }
                times.lap("outer");
                List<WorkerReport> reports = update.reports();
                for (WorkerReport r : reports) {
                    readerStates[r.worker()] = r.readerState();
                }
                String finished = run.workerStates(round).toString();
                deleteOldWorkerStates(fs, priorStates);
                priorStates = finished;
                long roundTokens = reports.stream().mapToLong(WorkerReport::tokens).sum();
                totalTokens += roundTokens;
                boolean checkpointDue = (round + 1) % settings.checkpointEvery() == 0 || round + 1 == settings.rounds();
                if (checkpointDue) {
                    Path saved = checkpoints.save(new ResumeState(round + 1, totalTokens, params_P, outer.state(),
                            averagedOptimizerState, readerStates, priorStates), outer.name(), settings.workers(),
                            engine.tokenizerHash());
                    LOG.info("checkpoint {}", saved);
                    times.lap("checkpoint");
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                RoundSummary summary = RoundSummary.of(round, reports, update.contributors(), totalTokens, seconds, 0,
                        times);
                metrics.record(summary, reports, settings.localSteps());
                retention.roundDone(summary);
                if (checkpointDue) {
                    retention.prune();
                }
                summaries.add(summary);
                progress.roundDone(summary);
            }
        } finally {
            sc.setJobDescription(null);
        }
        FinalModel.write(run, engine, params_P);
        writeSummary(fs, state.completedRounds(), summaries, totalTokens, (System.nanoTime() - runStarted) / 1e9);
        return new TrainResult(params_P, summaries);
    }

    /**
     * {@code sync=barrier} or {@code data-parallel} ({@link BarrierRounds}): the same run directory, checks, metrics
     * and checkpoints, but the driver never computes, receives or holds a parameter vector.
     */
    private TrainResult runInBarrierStages(FileSystem fs, CheckpointStore checkpoints) throws IOException {
        long runStarted = System.nanoTime();
        if (!settings.device().backend().equals("cpu")) {
            GpuScheduling.requireWholeGpus(spark.sparkContext().getConf(), "sync=" + settings.sync());
        }
        if (settings.outerOptimizer().equals("diloco") && engine.parameterCount() > Integer.MAX_VALUE - 8) {
            throw new UsageException("outer-optimizer=diloco keeps the global parameters and their momentum in Java"
                    + " arrays on each worker, at most 2^31 values; model " + settings.model() + " has "
                    + engine.parameterCount() + " parameters: train it with outer-optimizer=average");
        }
        CheckpointStore.Meta start;
        Optional<Path> startCheckpoint;
        if (settings.resume()) {
            startCheckpoint = Optional.of(latestCheckpoint(checkpoints));
            try {
                start = checkpoints.readMeta(startCheckpoint.get(), engine.parameterCount(), settings.outerOptimizer(),
                        settings.workers(), engine.tokenizerHash());
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage(), e);
            }
            LOG.info("resuming {} from {} after round {} ({} tokens)", run.uri(), startCheckpoint.get(),
                    start.completedRounds(), start.tokens());
        } else {
            createRunDirectory(fs);
            start = new CheckpointStore.Meta(0, 0, new String[settings.workers()]);
            startCheckpoint = Optional.empty();
        }
        BarrierRounds.Result result = new BarrierRounds(spark, settings, engine, data, run, checkpoints)
                .run(start, startCheckpoint);
        writeSummary(fs, start.completedRounds(), result.summaries(), result.totalTokens(),
                (System.nanoTime() - runStarted) / 1e9);
        return new TrainResult(null, result.summaries());
    }

    private void checkDataFitsModel() {
        if (!data.tokenizerHash().equals(engine.tokenizerHash())) {
            throw new UsageException("dataset " + data.manifestUri() + " was made with tokenizer " + data.tokenizerHash()
                    + " but model '" + settings.model() + "' is configured for tokenizer " + engine.tokenizerHash()
                    + ": tokenize the corpus with the model's tokenizer, or choose a model config for this dataset");
        }
        if (data.vocabSize() > engine.vocabSize()) {
            throw new UsageException("dataset " + data.manifestUri() + " has a vocabulary of " + data.vocabSize()
                    + " tokens but model '" + settings.model() + "' embeds only " + engine.vocabSize()
                    + ": choose a model config whose vocab_size covers the tokenizer");
        }
        if (settings.seqLen() + 1 > engine.maxSeqLenPlusOne()) {
            throw new UsageException("seq-len=" + settings.seqLen() + " is longer than model '" + settings.model()
                    + "' allows (" + (engine.maxSeqLenPlusOne() - 1) + " tokens): use a shorter seq-len or another model");
        }
        long sequences = data.sequenceCount(settings.seqLen());
        long needed = (long) settings.workers() * settings.batchSize();
        if (sequences < needed) {
            throw new UsageException("seq-len=" + settings.seqLen() + " does not fit dataset " + data.manifestUri()
                    + ": its training split packs into " + sequences + " sequences of " + (settings.seqLen() + 1)
                    + " tokens, fewer than one batch for each worker needs (" + settings.workers() + " workers x "
                    + settings.batchSize() + "); use a shorter seq-len, fewer workers or a smaller batch-size");
        }
    }

    private ResumeState startNew(FileSystem fs, float[] initial_P) throws IOException {
        createRunDirectory(fs);
        return new ResumeState(0, 0, initial_P, settings.outerOptimizer().equals("diloco")
                ? new float[initial_P.length] : new float[0], null, new String[settings.workers()], null);
    }

    /** A new run's directory with its resolved config, model description and manifest copy. */
    private void createRunDirectory(FileSystem fs) throws IOException {
        if (fs.exists(run.root())) {
            throw new UsageException("run directory " + run.uri() + " already exists: pass --resume true to continue"
                    + " it, or choose another --run-id");
        }
        fs.mkdirs(run.root());
        // The manifest file read, not the argument: a refreshed dataset's root moves on to newer versions, and
        // evaluate scores the version the run trained on.
        Map<String, String> config = new TreeMap<>(resolvedConfig);
        config.put("manifest", data.manifestUri());
        run.writeResolvedConfig(fs, config);
        VectorFiles.writeText(fs, run.modelConfig(), engine.describeJson());
        byte[] manifest = readAll(fs, new Path(data.manifestUri()));
        AtomicPublish.writeFile(fs, run.manifestCopy(), out -> out.write(manifest));
        LOG.info("new run {}: {} workers x {} local steps x {} rounds, outer optimiser {}, sync={}", run.uri(),
                settings.workers(), settings.localSteps(), settings.rounds(), settings.outerOptimizer(), settings.sync());
    }

    private static byte[] readAll(FileSystem fs, Path file) throws IOException {
        try (InputStream in = file.getFileSystem(fs.getConf()).open(file)) {
            return in.readAllBytes();
        }
    }

    /**
     * A resumed run reads the data it started on: the workers' reader positions mean nothing in another version
     * (a dataset root given as {@code --manifest} stands for a newer version after a refresh).
     */
    private void checkSameDataset(FileSystem fs) throws IOException {
        if (!fs.exists(run.manifestCopy())) {
            return;
        }
        byte[] trainedOn = readAll(fs, run.manifestCopy());
        if (!Arrays.equals(trainedOn, readAll(fs, new Path(data.manifestUri())))) {
            String version = Manifest.fromJson(new String(trainedOn, StandardCharsets.UTF_8),
                    run.manifestCopy().toString()).datasetVersion();
            String recorded = run.readResolvedConfig(fs).string("manifest");
            throw new UsageException("--resume: run " + run.uri() + " trained on dataset version " + version + " ("
                    + recorded + ") but --manifest " + settings.manifest() + " is now " + data.manifestUri()
                    + ", another manifest: resume with --manifest " + recorded
                    + ", or start a new --run-id to train on the new data");
        }
    }

    /** The checkpoint {@code --resume} continues from, after checking the run still reads its dataset. */
    private Path latestCheckpoint(CheckpointStore checkpoints) throws IOException {
        checkSameDataset(run.fileSystem());
        Optional<Path> latest = checkpoints.latest();
        if (latest.isEmpty()) {
            throw new UsageException("--resume: run directory " + run.uri() + " has no complete checkpoint under"
                    + " checkpoints/; start it again without --resume (after removing the directory)");
        }
        return latest.get();
    }

    private ResumeState resumeFrom(CheckpointStore checkpoints, int parameterCount) throws IOException {
        Path latest = latestCheckpoint(checkpoints);
        ResumeState state;
        try {
            state = checkpoints.load(latest, parameterCount, settings.outerOptimizer(), settings.workers(),
                    engine.tokenizerHash());
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage(), e);
        }
        LOG.info("resuming {} from {} after round {} ({} tokens)", run.uri(), latest, state.completedRounds(),
                state.tokens());
        // Worker states of rounds after the checkpoint belong to the interrupted attempt; the checkpoint holds its own.
        run.fileSystem().delete(new Path(run.root(), "workers"), true);
        return state;
    }

    /** The previous round's worker states are no longer needed once the next round's exist (checkpoints hold copies). */
    private void deleteOldWorkerStates(FileSystem fs, String priorStates) throws IOException {
        if (priorStates != null && priorStates.startsWith(new Path(run.root(), "workers").toString())) {
            fs.delete(new Path(priorStates), true);
        }
    }

    private void writeSummary(FileSystem fs, int resumedAfterRound, List<RoundSummary> rounds, long totalTokens,
                              double seconds) throws IOException {
        ObjectNode summary = JSON.createObjectNode()
                .put("run", run.uri())
                .put("model", settings.model())
                .put("manifest", data.manifestUri())
                .put("rounds", settings.rounds())
                .put("resumed_after_round", resumedAfterRound)
                .put("workers", settings.workers())
                .put("local_steps", settings.localSteps())
                .put("outer_optimizer", settings.outerOptimizer())
                .put("sync", settings.sync())
                .put("total_tokens", totalTokens)
                .put("seconds_this_invocation", seconds)
                .put("final_loss", rounds.isEmpty() ? Double.NaN : rounds.getLast().loss())
                .put("skipped_steps", rounds.stream().mapToLong(RoundSummary::skippedSteps).sum())
                .put("excluded_worker_updates", rounds.stream().mapToInt(RoundSummary::excludedWorkers).sum())
                .put("retried_tasks", rounds.stream().mapToInt(RoundSummary::retriedTasks).sum())
                .put("replayed_rounds", rounds.stream().mapToInt(RoundSummary::replayedRounds).sum())
                .put("final_parameters", run.finalParameters().toString());
        VectorFiles.writeText(fs, run.summary(), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(summary));
    }
}
