package org.sparkmoe.jobs.shards;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.StreamSupport;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.io.AtomicPublish;
import org.sparkmoe.jobs.io.HadoopConfSnapshot;
import org.sparkmoe.jobs.spark.JobProgress;
import org.sparkmoe.jobs.spark.SparkSessions;
import org.sparkmoe.jobs.tokenizer.TokenizerJson;
import org.sparkmoe.tokenizer.Tokenizer;
import scala.Tuple2;

/**
 * {@code sparkmoe tokenize}: the prepare job's kept documents → a versioned dataset of Arrow token shards.
 *
 * <ol>
 *   <li>encode every document (EOS appended, BOS when configured), split train/validation by a hash of its id;</li>
 *   <li>count tokens per split and language, plan the train mixture ({@link MixtureSampler});</li>
 *   <li>expand each train document into its copies, give every copy a shard and a place by a stable hash
 *       (a global shuffle), and let one Spark partition per shard sort and write it ({@link ShardWriter});</li>
 *   <li>write the manifest last into the staging directory, then publish it with one rename
 *       ({@link AtomicPublish}).</li>
 * </ol>
 * Packing into sequences happens at read time ({@link SequenceIndex}), so one dataset serves every context length.
 */
public final class TokenizeJob implements Job {

    private static final Logger LOG = LogManager.getLogger(TokenizeJob.class);

    @Override
    public String name() {
        return "tokenize";
    }

    @Override
    public String summary() {
        return "encode prepared documents into versioned Arrow token shards with a manifest (mixture, split, shuffle)";
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        TokenizeConfig config = TokenizeConfig.from(settings);
        Manifest manifest = tokenize(SparkSessions.forJob(settings), config);
        System.out.print(DatasetSummary.render(manifest));
        return 0;
    }

    /** Runs the whole job on {@code spark} and returns the published manifest. */
    public static Manifest tokenize(SparkSession spark, TokenizeConfig config) throws IOException {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path root = new Path(config.output());
        FileSystem fs = root.getFileSystem(hadoop);
        Path target = new Path(root, config.version());
        requireAbsent(fs, target);

        TokenizerJson tokenizerJson = TokenizerJson.read(config.tokenizer(), hadoop);
        String tokenizerSha = tokenizerJson.sha256();
        Tokenizer tokenizer = tokenizerJson.tokenizer();
        int eosId = TokenizerJson.requireToken(tokenizer, config.eosToken(), "eos-token");
        int bosId = config.bosToken().isEmpty() ? -1 : TokenizerJson.requireToken(tokenizer, config.bosToken(), "bos-token");
        Dataset<Row> kept = readKept(spark, config.input());

        Broadcast<TokenizerJson> json = jsc.broadcast(tokenizerJson);
        Map<String, LongAccumulator> skipped = new TreeMap<>();
        for (String reason : List.of("missing_id", "empty_text", "encode_failed")) {
            skipped.put(reason, spark.sparkContext().longAccumulator("tokenize." + reason));
        }
        double validationRatio = config.validationRatio();
        JavaRDD<TokenizedDocument> documents = kept.select("id", "lang", "text").javaRDD().mapPartitions(rows -> {
            Tokenizer t = json.value().tokenizer();
            return encode(rows, t, bosId, eosId, validationRatio, skipped);
        }).persist(StorageLevel.MEMORY_AND_DISK_SER());

        try (JobProgress progress = JobProgress.steps(spark, "tokenize", 3)) {
            return tokenize(spark, config, progress, documents, target, fs, hadoop, tokenizer, tokenizerSha, eosId,
                    bosId, skipped);
        }
    }

    private static Manifest tokenize(SparkSession spark, TokenizeConfig config, JobProgress progress,
                                     JavaRDD<TokenizedDocument> documents, Path target, FileSystem fs,
                                     Configuration hadoop, Tokenizer tokenizer, String tokenizerSha, int eosId,
                                     int bosId, Map<String, LongAccumulator> skipped) throws IOException {
        progress.begin("encode and count");
        Map<String, Long> trainTokens = new TreeMap<>();
        Map<String, Long> validationTokens = new TreeMap<>();
        documents.mapToPair(d -> new Tuple2<>((d.validation() ? "v\t" : "t\t") + d.lang(), (long) d.tokens().length))
                .reduceByKey(Long::sum).collectAsMap()
                .forEach((key, tokens) -> (key.startsWith("v") ? validationTokens : trainTokens)
                        .put(key.substring(2), tokens));
        progress.done("train tokens " + trainTokens + ", validation tokens " + validationTokens);
        progress.begin("plan the mixture");
        long seed = config.seed();
        MixturePlan plan = thresholds(documents, seed,
                MixtureSampler.plan(trainTokens, config.shares(), config.maxEpochs(), config.totalTokens()));
        progress.done("rates " + plan.languages().entrySet().stream()
                .map(e -> e.getKey() + "=" + String.format(Locale.ROOT, "%.3f", e.getValue().rate()))
                .toList() + (plan.thresholds().isEmpty() ? "" : ", thresholds " + plan.thresholds()));
        progress.begin("write shards and manifest");

        double plannedTrain = 0;
        double plannedValidation = 0;
        for (Map.Entry<String, MixturePlan.Language> e : plan.languages().entrySet()) {
            plannedTrain += e.getValue().rate() * e.getValue().availableTokens();
            plannedValidation += e.getValue().rate() > 0 ? validationTokens.getOrDefault(e.getKey(), 0L) : 0;
        }
        int trainShards = shardCount(plannedTrain, config.shardBytes());
        int validationShards = shardCount(plannedValidation, config.shardBytes());
        JavaPairRDD<ShardSlot, TokenizedDocument> slots = documents.flatMapToPair(doc -> {
            int copies = doc.validation() ? (plan.rate(doc.lang()) > 0 ? 1 : 0) : plan.copies(seed, doc.id(), doc.lang());
            List<Tuple2<ShardSlot, TokenizedDocument>> out = new ArrayList<>(copies);
            for (int copy = 0; copy < copies; copy++) {
                long h = StableHash.of(seed, "shuffle", doc.id(), copy);
                int partition = doc.validation()
                        ? trainShards + (int) Math.floorMod(h, (long) validationShards)
                        : (int) Math.floorMod(h, (long) trainShards);
                out.add(new Tuple2<>(new ShardSlot(partition, StableHash.mix(h), doc.id(), copy,
                        Arrays.hashCode(doc.tokens())), doc));
            }
            return out.iterator();
        });

        try (AtomicPublish publish = AtomicPublish.begin(hadoop, target.toString())) {
            Manifest manifest = writeVersion(slots, publish.staging(), fs, hadoop, config, plan, trainShards,
                    validationShards, tokenizer, tokenizerSha, eosId, bosId, skipped);
            documents.unpersist(false);
            requireAbsent(fs, target);
            publish.commit();
            progress.done(String.format("dataset %s at %s: %d train shards, %d validation shards, skipped %s",
                    config.version(), target, manifest.split(Manifest.TRAIN).shards().size(),
                    manifest.split(Manifest.VALIDATION).shards().size(), manifest.skippedDocuments()));
            return manifest;
        }
    }

    /** Writes every shard into {@code staging}, then the manifest, last; returns the manifest. */
    private static Manifest writeVersion(JavaPairRDD<ShardSlot, TokenizedDocument> slots, Path staging, FileSystem fs,
                                         Configuration hadoop, TokenizeConfig config, MixturePlan plan,
                                         int trainShards, int validationShards, Tokenizer tokenizer,
                                         String tokenizerSha, int eosId, int bosId,
                                         Map<String, LongAccumulator> skipped) throws IOException {
        fs.mkdirs(staging);
        String stagingUri = fs.makeQualified(staging).toString();
        HadoopConfSnapshot conf = new HadoopConfSnapshot(hadoop);
        Schema schema = ShardSchema.schema(tokenizerSha, eosId);
        String schemaJson = schema.toJson();
        int batchTokens = config.batchTokens();
        List<Tuple2<Integer, ShardInfo>> written = slots
                .repartitionAndSortWithinPartitions(new ShardPartitioner(trainShards + validationShards))
                .mapPartitionsWithIndex((partition, it) -> writeShard(partition, trainShards, it, stagingUri, conf,
                        Schema.fromJSON(schemaJson), batchTokens), false)
                .collect();

        List<ShardInfo> train = new ArrayList<>();
        List<ShardInfo> validation = new ArrayList<>();
        written.stream().sorted((a, b) -> Integer.compare(a._1(), b._1()))
                .forEach(t -> (t._1() < trainShards ? train : validation).add(t._2()));
        Manifest.Split trainSplit = Manifest.Split.of(train);
        Map<String, Long> skippedCounts = new TreeMap<>();
        skipped.forEach((reason, acc) -> skippedCounts.put(reason, acc.value()));
        Manifest manifest = new Manifest(ShardSchema.FORMAT, ShardSchema.FORMAT_VERSION, config.version(),
                new Manifest.TokenizerInfo(config.tokenizer(), tokenizerSha, tokenizer.vocabSize(), eosId, bosId),
                config.recorded(), reached(plan, trainSplit), skippedCounts,
                Map.of(Manifest.TRAIN, trainSplit, Manifest.VALIDATION, Manifest.Split.of(validation)));
        manifest.write(fs, new Path(staging, Manifest.FILE_NAME));
        return manifest;
    }

    /** Published versions are immutable: a rerun under the same name is refused. */
    private static void requireAbsent(FileSystem fs, Path target) throws IOException {
        if (fs.exists(target)) {
            throw new UsageException("dataset version " + target + " already exists; versions are never overwritten:"
                    + " choose a new --version or delete it first");
        }
    }

    /** Fixes each fractional rate's hash threshold from the token-weighted histogram of sampling positions. */
    private static MixturePlan thresholds(JavaRDD<TokenizedDocument> documents, long seed, MixturePlan plan) {
        Map<String, Double> fractions = new TreeMap<>();
        plan.languages().forEach((lang, l) -> {
            if (l.rate() != Math.floor(l.rate())) {
                fractions.put(lang, l.rate() - Math.floor(l.rate()));
            }
        });
        if (fractions.isEmpty()) {
            return plan;
        }
        Map<String, long[]> histograms = new TreeMap<>();
        fractions.keySet().forEach(lang -> histograms.put(lang, new long[MixtureSampler.BINS]));
        documents.filter(d -> !d.validation() && fractions.containsKey(d.lang()))
                .mapToPair(d -> new Tuple2<>(new Tuple2<>(d.lang(), MixtureSampler.bin(seed, d.id())),
                        (long) d.tokens().length))
                .reduceByKey(Long::sum).collectAsMap()
                .forEach((key, tokens) -> histograms.get(key._1())[key._2()] = tokens);
        Map<String, Double> thresholds = new TreeMap<>();
        fractions.forEach((lang, fraction) ->
                thresholds.put(lang, MixtureSampler.threshold(histograms.get(lang), fraction)));
        return plan.withThresholds(thresholds);
    }

    /** Encodes a partition lazily, one document at a time; a bad row is counted under its reason and skipped. */
    private static Iterator<TokenizedDocument> encode(Iterator<Row> rows, Tokenizer tokenizer, int bosId, int eosId,
                                                      double validationRatio, Map<String, LongAccumulator> skipped) {
        Iterable<Row> iterable = () -> rows;
        return StreamSupport.stream(iterable.spliterator(), false)
                .map(row -> encodeOne(row, tokenizer, bosId, eosId, validationRatio, skipped))
                .filter(Objects::nonNull)
                .iterator();
    }

    private static TokenizedDocument encodeOne(Row row, Tokenizer tokenizer, int bosId, int eosId,
                                               double validationRatio, Map<String, LongAccumulator> skipped) {
        String id = row.getString(0);
        String lang = row.isNullAt(1) ? "other" : row.getString(1);
        String text = row.getString(2);
        if (id == null || id.isEmpty()) {
            skipped.get("missing_id").add(1);
            return null;
        }
        if (text == null || text.isEmpty()) {
            skipped.get("empty_text").add(1);
            return null;
        }
        int[] ids;
        try {
            ids = tokenizer.encode(text);
        } catch (RuntimeException e) {
            LOG.warn("document {} cannot be encoded, skipped: {}", id, e.toString());
            skipped.get("encode_failed").add(1);
            return null;
        }
        int prefix = bosId >= 0 ? 1 : 0;
        int[] tokens = new int[prefix + ids.length + 1];
        if (prefix == 1) {
            tokens[0] = bosId;
        }
        System.arraycopy(ids, 0, tokens, prefix, ids.length);
        tokens[tokens.length - 1] = eosId;
        return new TokenizedDocument(id, lang, SplitAssigner.isValidation(id, validationRatio), tokens);
    }

    private static Iterator<Tuple2<Integer, ShardInfo>> writeShard(int partition, int trainShards,
            Iterator<Tuple2<ShardSlot, TokenizedDocument>> documents, String stagingUri, HadoopConfSnapshot conf,
            Schema schema, int batchTokens) throws IOException {
        if (!documents.hasNext()) {
            return Collections.emptyIterator();
        }
        String relative = partition < trainShards
                ? String.format("%s/shard-%05d.arrow", Manifest.TRAIN, partition)
                : String.format("%s/shard-%05d.arrow", Manifest.VALIDATION, partition - trainShards);
        Path staging = new Path(stagingUri);
        FileSystem fs = staging.getFileSystem(conf.toConfiguration());
        try (ShardWriter writer = ShardWriter.create(fs, new Path(staging, relative), relative, schema, batchTokens)) {
            while (documents.hasNext()) {
                TokenizedDocument doc = documents.next()._2();
                writer.add(doc.id(), doc.lang(), doc.tokens());
            }
            return List.of(new Tuple2<>(partition, writer.finish())).iterator();
        }
    }

    private static MixturePlan.Language reachedOne(MixturePlan.Language planned, long tokens, long total) {
        return new MixturePlan.Language(planned.availableTokens(), planned.targetShare(), planned.rate(),
                planned.maxCopies(), tokens, total == 0 ? 0 : (double) tokens / total);
    }

    private static Map<String, MixturePlan.Language> reached(MixturePlan plan, Manifest.Split train) {
        Map<String, MixturePlan.Language> out = new TreeMap<>();
        plan.languages().forEach((lang, planned) -> out.put(lang,
                reachedOne(planned, train.tokensPerLanguage().getOrDefault(lang, 0L), train.tokens())));
        return out;
    }

    private static int shardCount(double tokens, long shardBytes) {
        return (int) Math.max(1, Math.ceil(tokens * 4 / shardBytes));
    }

    private static Dataset<Row> readKept(SparkSession spark, String input) throws IOException {
        Path kept = new Path(input, "kept");
        FileSystem fs = kept.getFileSystem(spark.sparkContext().hadoopConfiguration());
        if (!fs.exists(kept)) {
            throw new UsageException("input " + input + " has no kept/ directory: give the prepare job's output"
                    + " directory (it writes kept/ Parquet with id, source, lang, text)");
        }
        Dataset<Row> rows = spark.read().parquet(kept.toString());
        List<String> columns = Arrays.asList(rows.columns());
        for (String column : List.of("id", "lang", "text")) {
            if (!columns.contains(column)) {
                throw new UsageException(kept + " has no column '" + column + "' (it has " + columns
                        + "): is it the prepare job's kept/ output?");
            }
        }
        return rows;
    }
}
