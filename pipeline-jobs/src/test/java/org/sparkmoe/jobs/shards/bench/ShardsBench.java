package org.sparkmoe.jobs.shards.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileUtil;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.SequenceLoader;
import org.sparkmoe.jobs.shards.ShardInfo;
import org.sparkmoe.jobs.shards.TokenDataset;
import org.sparkmoe.jobs.shards.TokenizeConfig;
import org.sparkmoe.jobs.shards.TokenizeJob;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * Whole-job throughput table for docs/benchmarks.md {@code ## shards}:
 * tokenize tokens/s per core on local[1] and local[2] (anchor: the bare tokenizer on one thread, same documents),
 * and the reader's tokens/s on one thread from local disk and MiniDFSCluster (anchor: Arrow Java's own IPC reader).
 *
 * <pre>
 *   java ... org.sparkmoe.jobs.shards.bench.ShardsBench [SAMPLE_MB (default 16)] [WORK_DIR (default target/shards-bench)]
 * </pre>
 */
public final class ShardsBench {

    private static final int SEQ_LEN = 4096;
    private static final int BATCH = 8;
    private static final int REPEATS = 5;

    public static void main(String[] args) throws Exception {
        double sampleMb = args.length > 0 ? Double.parseDouble(args[0]) : 16;
        Path work = Path.of(args.length > 1 ? args[1] : "target/shards-bench").toAbsolutePath();
        FileUtil.fullyDelete(work.toFile());
        Files.createDirectories(work);
        List<Row> rows = sample(sampleMb);
        long bytes = rows.stream().mapToLong(r -> r.getString(3).getBytes(java.nio.charset.StandardCharsets.UTF_8).length).sum();
        System.out.printf(Locale.ROOT, "sample: %d documents, %.1f MB of UTF-8 from ../shared/corpus/train%n", rows.size(),
                bytes / 1e6);

        double[] bare = new double[3];
        long tokens = 0;
        for (int r = 0; r < bare.length; r++) {
            // A fresh tokenizer each time: its BPE cache starts empty, as in each tokenize job.
            Tokenizer tokenizer = Tokenizer.load(SharedData.deepseekV3Tokenizer());
            long t0 = System.nanoTime();
            tokens = 0;
            for (Row row : rows) {
                tokens += tokenizer.encode(row.getString(3)).length + 1;
            }
            bare[r] = tokens / ((System.nanoTime() - t0) / 1e9);
        }
        double bareTps = median(bare);
        System.out.printf(Locale.ROOT, "%-58s %14s %10s%n", "measurement", "tokens/s", "vs anchor");
        row("anchor: Tokenizer.encode, 1 thread, fresh cache, no Spark", bareTps, 1.0);

        String manifest = null;
        for (int cores : new int[] {1, 2}) {
            SparkSession spark = SparkSession.builder().master("local[" + cores + "]").appName("shards-bench")
                    .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
                    .config("spark.driver.host", "localhost").getOrCreate();
            String prepared = work.resolve("prepare-" + cores).toUri().toString();
            StructType schema = new StructType().add("id", DataTypes.StringType).add("source", DataTypes.StringType)
                    .add("lang", DataTypes.StringType).add("text", DataTypes.StringType);
            spark.createDataFrame(rows, schema).repartition(8).write().parquet(prepared + "/kept");
            // Executors keep one tokenizer per JVM and tokenizer hash, BPE cache included; a copy with one more
            // trailing newline (same tokenizer, new hash) gives each run a cold cache, as a fresh job has.
            Path tokenizerCopy = work.resolve("tokenizer-" + cores + ".json");
            Files.writeString(tokenizerCopy, Files.readString(SharedData.deepseekV3Tokenizer()) + "\n".repeat(cores));
            long t0 = System.nanoTime();
            Manifest m = TokenizeJob.tokenize(spark, config(prepared, work.resolve("out-" + cores).toUri().toString(),
                    tokenizerCopy));
            double seconds = (System.nanoTime() - t0) / 1e9;
            long written = m.splits().values().stream().mapToLong(Manifest.Split::tokens).sum();
            double perCore = written / seconds / cores;
            row("tokenize job local[" + cores + "], tokens/s per core (" + written + " tok)", perCore, perCore / bareTps);
            spark.stop();
            manifest = work.resolve("out-" + cores).resolve("v1").resolve(Manifest.FILE_NAME).toUri().toString();
        }

        Path versionDir = Path.of(java.net.URI.create(manifest)).getParent();
        Manifest m;
        try (TokenDataset ds = TokenDataset.open(manifest, Manifest.TRAIN, SEQ_LEN, new Configuration())) {
            m = ds.manifest();
        }
        double arrow = arrowJavaTokensPerSecond(versionDir, m);
        row("anchor: Arrow Java ArrowFileReader, all batches, 1 thread", arrow, 1.0);
        double local = readerTokensPerSecond(manifest, false);
        row("reader int[] batches, local disk (mmap), 1 thread", local, local / arrow);
        double localOffHeap = readerTokensPerSecond(manifest, true);
        row("reader off-heap batches, local disk (mmap), 1 thread", localOffHeap, localOffHeap / arrow);
        try (MiniHdfs hdfs = MiniHdfs.start()) {
            hdfs.fileSystem().copyFromLocalFile(new org.apache.hadoop.fs.Path(versionDir.toUri()),
                    new org.apache.hadoop.fs.Path("/bench/v1"));
            double remote = readerTokensPerSecond(hdfs.uri("/bench/v1/manifest.json"), false);
            row("reader int[] batches, MiniDFSCluster, 1 thread", remote, remote / arrow);
        }
        System.out.printf(Locale.ROOT, "consumption anchor: one H200 training val-2b ~53,000 tokens/s (PyTorch eager)%n");
        System.exit(0);
    }

    private static TokenizeConfig config(String input, String output, Path tokenizer) {
        JobSettings s = JobSettings.resolve(new TokenizeJob(), List.of("--input", input, "--output", output,
                "--tokenizer", tokenizer.toUri().toString(), "--shard.size-mb", "8"));
        return TokenizeConfig.from(s);
    }

    private static double readerTokensPerSecond(String manifest, boolean offHeap) throws Exception {
        double[] runs = new double[REPEATS];
        try (TokenDataset ds = TokenDataset.open(manifest, Manifest.TRAIN, SEQ_LEN, new Configuration());
             Arena arena = Arena.ofConfined()) {
            int[] batch = new int[BATCH * (SEQ_LEN + 1)];
            MemorySegment segment = arena.allocate(4L * batch.length, 64);
            long steps = ds.sequenceCount() / BATCH;
            for (int r = 0; r < REPEATS; r++) {
                SequenceLoader loader = ds.loader(r, 0, 1);
                long t0 = System.nanoTime();
                long checksum = 0;
                for (long s = 0; s < steps; s++) {
                    if (offHeap) {
                        loader.nextBatch(segment, BATCH);
                        checksum += segment.getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, s % batch.length);
                    } else {
                        loader.nextBatch(batch, BATCH);
                        checksum += batch[(int) (s % batch.length)];
                    }
                }
                runs[r] = steps * BATCH * (SEQ_LEN + 1.0) / ((System.nanoTime() - t0) / 1e9);
                if (checksum == 42) {
                    System.out.print("");
                }
            }
        }
        return median(runs);
    }

    private static double arrowJavaTokensPerSecond(Path versionDir, Manifest m) throws Exception {
        double[] runs = new double[REPEATS];
        for (int r = 0; r < REPEATS; r++) {
            long tokens = 0;
            long sum = 0;
            long t0 = System.nanoTime();
            for (ShardInfo shard : m.split(Manifest.TRAIN).shards()) {
                try (FileChannel channel = FileChannel.open(versionDir.resolve(shard.path()), StandardOpenOption.READ);
                     RootAllocator allocator = new RootAllocator();
                     ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
                    VectorSchemaRoot root = reader.getVectorSchemaRoot();
                    while (reader.loadNextBatch()) {
                        IntVector values = (IntVector) ((ListVector) root.getVector(0)).getDataVector();
                        for (int i = 0; i < values.getValueCount(); i++) {
                            sum += values.getDataBuffer().getInt(4L * i);
                        }
                        tokens += values.getValueCount();
                    }
                }
            }
            runs[r] = tokens / ((System.nanoTime() - t0) / 1e9);
            if (sum == 42) {
                System.out.print("");
            }
        }
        return median(runs);
    }

    private static List<Row> sample(double sampleMb) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<Path> files;
        try (Stream<Path> list = Files.list(SharedData.trainCorpus())) {
            files = list.filter(p -> p.toString().endsWith(".jsonl")).sorted().toList();
        }
        long perFile = (long) (sampleMb * 1e6 / files.size());
        List<Row> rows = new ArrayList<>();
        for (Path file : files) {
            long taken = 0;
            try (BufferedReader in = Files.newBufferedReader(file)) {
                String line;
                while (taken < perFile && (line = in.readLine()) != null) {
                    JsonNode d = json.readTree(line);
                    rows.add(RowFactory.create(d.get("id").asText(), d.get("source").asText(),
                            d.get("lang_hint").asText(), d.get("text").asText()));
                    taken += line.length();
                }
            }
        }
        return rows;
    }

    private static void row(String what, double tokensPerSecond, double ratio) {
        System.out.printf(Locale.ROOT, "%-58s %,14.0f %9.2fx%n", what, tokensPerSecond, ratio);
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private ShardsBench() {}
}
