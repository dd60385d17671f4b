package org.sparkmoe.jobs.refresh;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.prepare.LshBands;
import org.sparkmoe.jobs.prepare.MinHashSignature;
import org.sparkmoe.jobs.prepare.PrepareConfig;
import org.sparkmoe.jobs.prepare.PrepareJob;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.TokenizeConfig;
import org.sparkmoe.jobs.shards.TokenizeJob;
import org.sparkmoe.jobs.spark.JobProgress;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.jobs.spark.SparkSessions;
import org.sparkmoe.jobs.tokenizer.TokenizerJson;

/**
 * {@code sparkmoe refresh}: folds the input files that are new or changed since the current dataset version
 * into a new version of a token-shard dataset.
 *
 * <pre>
 *   lock (lease on TARGET/_refresh/lock)
 *     → changes: list inputs, compare size/mtime/SHA-256 with the current version's inputs
 *     → none: say so, publish nothing
 *     → prepare the changed files (clean, language, quality, dedup inside the batch)   _refresh/work/vN/
 *     → drop documents that duplicate a kept one, exactly or nearly (persisted index)   _refresh/index/vN/
 *     → write the new documents                                                         data/vN/kept/
 *     → tokenize and sample them (the tokenize job itself)                              versions/vN/
 *     → pending marker, then the manifest (old + new shards, all inputs), atomically    versions/vN.json
 * </pre>
 * A refresh that dies before the manifest leaves the previous version current; the next one finds the pending
 * marker and publishes it, or, when the inputs changed again meanwhile, rebuilds the version from scratch.
 */
public final class RefreshJob implements Job {

    private static final Logger LOG = LogManager.getLogger(RefreshJob.class);

    @Override
    public String name() {
        return "refresh";
    }

    @Override
    public String summary() {
        return "fold new or changed corpus files into a new, atomically published token-shard dataset version"
                + " (deduplicated against everything kept)";
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        Outcome outcome = refresh(() -> SparkSessions.forJob(settings), RefreshConfig.from(settings), settings);
        System.out.println(outcome.message());
        return 0;
    }

    /**
     * What a refresh did.
     *
     * @param published the version it published, empty when nothing had changed
     * @param message   one line for the console
     */
    public record Outcome(Optional<DatasetVersion> published, String message) {}

    /**
     * The whole refresh under the lock. Spark is started only when there is something to do, so a scheduled run
     * that finds nothing new costs a file listing.
     */
    public static Outcome refresh(Supplier<SparkSession> sparkSession, RefreshConfig config, JobSettings settings)
            throws Exception {
        Configuration hadoop = JobHadoop.forJob(settings);
        Path targetPath = new Path(config.target());
        FileSystem fs = targetPath.getFileSystem(hadoop);
        DatasetVersions versions = new DatasetVersions(fs, targetPath);
        fs.mkdirs(versions.refreshDir());
        try (LeaseLock lock = LeaseLock.acquire(fs, new Path(versions.refreshDir(), "lock"), config.lease(),
                config.lockWait())) {
            Optional<DatasetVersion> current = versions.current();
            int currentNumber = current.map(DatasetVersion::version).orElse(0);
            ChangeSet changes = new ChangeDetector(hadoop).detect(config.inputs(),
                    current.map(DatasetVersion::inputs).orElse(List.of()));
            if (changes.isEmpty()) {
                String message = "refresh: no new or changed input since "
                        + (current.isPresent() ? "version " + currentNumber : "the start (and no input)")
                        + " of " + versions.target() + "; nothing changes";
                LOG.info(message);
                return new Outcome(Optional.empty(), message);
            }
            if (current.isPresent()) {
                requireDatasetTokenizer(config.tokenizer(), current.get(), hadoop);
            }
            int next = currentNumber + 1;
            LOG.info("refresh: {} new or changed input files for version {}: {}", changes.changed().size(), next,
                    changes.changed().stream().map(InputFingerprint::uri).toList());
            Optional<PendingVersion> pending = PendingVersion.read(fs, versions.refreshDir(), next)
                    .filter(p -> p.changed().equals(changes.changed()));
            if (pending.isPresent()) {
                LOG.info("refresh: version {} was built by a refresh that stopped before publishing; publishing it", next);
            }
            SparkSession spark = pending.isPresent() ? null : sparkSession.get();
            try (JobProgress progress = JobProgress.steps(spark, "refresh", pending.isPresent() ? 1 : 5)) {
                PendingVersion built = pending.isPresent() ? pending.get()
                        : build(spark, config, settings, versions, changes, next, progress);
                progress.begin("verify and publish version " + next);
                Optional<Manifest> added = built.documents().isEmpty() ? Optional.empty()
                        : Optional.of(Manifest.read(fs, versions.shardsDir(next)));
                Optional<Manifest> previous = current.map(DatasetVersion::tokens);
                if (previous.isPresent()) {
                    VersionManifests.verifyShards(fs, versions.versionsDir(), previous.get(), config.verifySha256());
                }
                if (previous.isEmpty() && added.isEmpty()) {
                    throw new UsageException("refresh: none of the " + built.added().get("records_in")
                            + " documents of " + changes.changed().size() + " input files was kept (" + built.added()
                            + "), so version 1 of " + versions.target() + " would be empty: check the inputs and the"
                            + " prepare settings");
                }
                Manifest tokens;
                try {
                    tokens = VersionManifests.combine(DatasetVersions.name(next), previous, added,
                            DatasetVersions.name(next) + "/");
                } catch (UsageException e) {
                    // The new shards are unusable with this dataset: the next run must rebuild them, not publish them.
                    fs.delete(PendingVersion.file(versions.refreshDir(), next), false);
                    throw e;
                }
                List<DatasetVersion.DocumentFile> documents =
                        new ArrayList<>(current.map(DatasetVersion::documents).orElse(List.of()));
                documents.addAll(built.documents());
                DatasetVersion version = new DatasetVersion(next, Instant.now().toString(), currentNumber,
                        changes.all(), documents, built.added(), tokens);
                versions.publish(version);
                fs.delete(PendingVersion.file(versions.refreshDir(), next), false);
                fs.delete(new Path(versions.refreshDir(), "work/" + DatasetVersions.name(next)), true);
                String message = String.format("published version %d of %s (%s): %d new documents, %d new"
                        + " tokens from %d files (%s); %d documents, %d tokens in %d shards", next, versions.target(),
                        versions.manifest(next), built.added().get("kept"), built.added().get("tokens"),
                        changes.changed().size(), built.added(), version.documentCount(), version.tokenCount(),
                        tokens.splits().values().stream().mapToInt(sp -> sp.shards().size()).sum());
                progress.done(message);
                return new Outcome(Optional.of(version), "refresh: " + message);
            }
        }
    }

    /** Stops a refresh whose tokenizer is not the dataset's before any work is done. */
    private static void requireDatasetTokenizer(String tokenizer, DatasetVersion current, Configuration hadoop)
            throws IOException {
        Manifest.TokenizerInfo dataset = current.tokens().tokenizer();
        TokenizerJson.read(tokenizer, hadoop).requireSha256(dataset.sha256(), dataset.path(), "version "
                + current.version() + " of this dataset (the versions of one dataset share one tokenizer; refresh into"
                + " a new --target for another)");
    }

    /**
     * Prepares, deduplicates, writes and tokenizes version {@code next}; ends by writing its pending marker.
     * Leftovers of an earlier attempt at the same version are deleted first.
     */
    static PendingVersion build(SparkSession spark, RefreshConfig config, JobSettings settings,
                                DatasetVersions versions, ChangeSet changes, int next, JobProgress progress)
            throws Exception {
        FileSystem fs = versions.target().getFileSystem(spark.sparkContext().hadoopConfiguration());
        Path work = new Path(versions.refreshDir(), "work/" + DatasetVersions.name(next));
        Path index = new Path(versions.refreshDir(), "index/" + DatasetVersions.name(next));
        Path data = versions.dataDir(next);
        Path shards = versions.shardsDir(next);
        for (Path leftover : List.of(work, index, data, shards)) {
            fs.delete(leftover, true);
        }
        FileStatus[] staging = fs.globStatus(new Path(versions.versionsDir(), "." + DatasetVersions.name(next)
                + ".staging-*"));
        for (FileStatus s : staging == null ? new FileStatus[0] : staging) {
            fs.delete(s.getPath(), true);
        }

        progress.begin("prepare " + changes.changed().size() + " new or changed files");
        Path prepared = new Path(work, "prepared");
        PrepareJob prepare = new PrepareJob();
        List<String> prepareArgs = new ArrayList<>();
        config.prepareConfig().ifPresent(file -> prepareArgs.addAll(List.of("--config", file)));
        for (InputFingerprint f : changes.changed()) {
            prepareArgs.addAll(List.of("--input", f.uri()));
        }
        prepareArgs.addAll(List.of("--output", prepared.toString()));
        JobSettings prepareSettings = JobSettings.resolve(prepare, withSparkConf(prepareArgs, settings));
        int status = prepare.run(prepareSettings);
        if (status != 0) {
            throw new IOException("the prepare step of refresh version " + next + " failed with status " + status);
        }
        progress.done("prepared into " + prepared);
        progress.begin("deduplicate against versions before " + next);
        PrepareConfig p = PrepareConfig.from(prepareSettings);
        DedupIndex dedup = new DedupIndex(new MinHashSignature(p.shingleSize(), p.bands() * p.rows(), p.minhashSeed()),
                new LshBands(p.bands(), p.rows()), p.jaccardThreshold());

        Dataset<Row> kept = spark.read().parquet(new Path(prepared, "kept").toString());
        Dataset<Row> fingerprints = dedup.fingerprints(kept).localCheckpoint();
        Dataset<Row> known = DedupIndex.read(spark, fs, new Path(versions.refreshDir(), "index"), next - 1);
        Dataset<Row> duplicates = dedup.duplicatesOfKept(fingerprints, known).localCheckpoint();
        Map<String, Long> added = new LinkedHashMap<>();
        JsonNode report = readJson(fs, new Path(prepared, "report.json"));
        added.put("records_in", report.path("records_in").asLong());
        added.put("prepare_kept", report.path("records_kept").asLong());
        added.put("prepare_rejected", report.path("records_rejected").asLong());
        for (String reason : List.of(DedupIndex.REASON_EXACT, DedupIndex.REASON_NEAR)) {
            added.put(reason, duplicates.where(col("reason").equalTo(reason)).count());
        }

        Dataset<Row> fresh = kept.join(duplicates.select("id"), "id", "left_anti");
        long freshCount = fresh.count();
        added.put("kept", freshCount);
        progress.done(String.format("%,d new documents; %,d exact and %,d near duplicates of kept ones", freshCount,
                added.get(DedupIndex.REASON_EXACT), added.get(DedupIndex.REASON_NEAR)));
        progress.begin("write the documents and the dedup index");
        Path keptDocuments = new Path(data, "kept");
        int files = (int) Math.max(1, (freshCount + config.documentsPerFile() - 1) / config.documentsPerFile());
        fresh.repartition(files, col("id")).sortWithinPartitions("id").write().option("compression", "zstd")
                .parquet(keptDocuments.toString());
        fingerprints.join(duplicates.select("id"), "id", "left_anti").write().parquet(index.toString());

        progress.done(keptDocuments.toString());
        progress.begin("tokenize");
        List<DatasetVersion.DocumentFile> documents = new ArrayList<>();
        if (freshCount > 0) {
            for (FileStatus f : fs.listStatus(keptDocuments)) {
                if (f.getPath().getName().startsWith("part-")) {
                    long docs = spark.read().parquet(f.getPath().toString()).count();
                    String relative = "data/" + DatasetVersions.name(next) + "/kept/" + f.getPath().getName();
                    documents.add(new DatasetVersion.DocumentFile(relative, next, docs, f.getLen()));
                }
            }
            documents.sort(Comparator.comparing(DatasetVersion.DocumentFile::path));
            Manifest tokenized = tokenize(spark, config, settings, versions, next);
            added.put("tokens", tokenized.splits().values().stream().mapToLong(Manifest.Split::tokens).sum());
            added.put("tokenize_skipped", tokenized.skippedDocuments().values().stream().mapToLong(Long::longValue).sum());
        } else {
            added.put("tokens", 0L);
            added.put("tokenize_skipped", 0L);
        }
        progress.done(String.format("%,d tokens", added.get("tokens")));
        PendingVersion pending = new PendingVersion(next, changes.changed(), documents, added);
        pending.write(fs, versions.refreshDir());
        return pending;
    }

    /** Runs the tokenize job on version {@code next}'s documents; it publishes {@code versions/vN/} atomically. */
    private static Manifest tokenize(SparkSession spark, RefreshConfig config, JobSettings settings,
                                     DatasetVersions versions, int next) throws IOException {
        List<String> args = new ArrayList<>();
        config.tokenizeConfig().ifPresent(file -> args.addAll(List.of("--config", file)));
        args.addAll(List.of("--input", versions.dataDir(next).toString(), "--output", versions.versionsDir().toString(),
                "--version", DatasetVersions.name(next), "--tokenizer", config.tokenizer()));
        TokenizeConfig tokenizeConfig = TokenizeConfig.from(JobSettings.resolve(new TokenizeJob(),
                withSparkConf(args, settings)));
        return TokenizeJob.tokenize(spark, tokenizeConfig);
    }

    private static List<String> withSparkConf(List<String> args, JobSettings settings) {
        List<String> all = new ArrayList<>(args);
        settings.sparkConf().forEach((k, v) -> all.addAll(List.of("--set", k + "=" + v)));
        return all;
    }

    private static JsonNode readJson(FileSystem fs, Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return new ObjectMapper().readTree(in);
        }
    }
}
