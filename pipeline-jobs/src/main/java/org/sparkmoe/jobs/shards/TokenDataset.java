package org.sparkmoe.jobs.shards;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.spark.OncePerJvm;

/**
 * One split of a dataset version, packed into sequences of {@code seqLen + 1} tokens: random access to any
 * sequence ({@link #readSequence}), and {@link SequenceLoader}s for the shuffled, worker-split training order.
 *
 * <pre>{@code
 * try (TokenDataset train = TokenDataset.open("hdfs:///data/tok/v1/manifest.json", "train", 4096, hadoopConf)) {
 *     SequenceLoader loader = train.loader(seed, worker, workers);      // or train.resume(savedState)
 *     int[] batch_BT1 = new int[8 * (4096 + 1)];
 *     loader.nextBatch(batch_BT1, 8);                                  // 8 sequences, row-major
 *     String checkpoint = loader.state().encode();
 * }
 * }</pre>
 *
 * Shards open lazily on first access; the first open of each verifies its length, SHA-256 (unless disabled),
 * format and tokenizer against the manifest. Thread-safe.
 */
public final class TokenDataset implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(TokenDataset.class);

    private final FileSystem fs;
    private final Path directory;
    private final Manifest manifest;
    private final String split;
    private final List<ShardInfo> shards;
    private final SequenceIndex index;
    private final boolean verifySha256;
    private final ShardReader[] readers;

    private TokenDataset(FileSystem fs, Path directory, Manifest manifest, String split, int seqLen,
                         boolean verifySha256) {
        this.fs = fs;
        this.directory = directory;
        this.manifest = manifest;
        this.split = split;
        this.shards = manifest.split(split).shards();
        this.index = new SequenceIndex(shards, seqLen);
        this.verifySha256 = verifySha256;
        this.readers = new ShardReader[shards.size()];
    }

    /** Opens a split; every shard's SHA-256 is verified on its first open. */
    public static TokenDataset open(String manifestUri, String split, int seqLen, Configuration conf) throws IOException {
        return open(manifestUri, split, seqLen, conf, true);
    }

    /**
     * @param verifySha256 false skips the full-file hash on first open (length, layout and counts are still
     *                     checked); for notebooks peeking at a large dataset
     */
    public static TokenDataset open(String manifestUri, String split, int seqLen, Configuration conf,
                                    boolean verifySha256) throws IOException {
        Path path = new Path(manifestUri);
        FileSystem fs = path.getFileSystem(conf);
        Path file = Manifest.manifestFile(fs, path);
        Manifest manifest = Manifest.read(fs, file);
        if (seqLen <= 0) {
            throw new UsageException("seqLen must be positive, got " + seqLen);
        }
        TokenDataset dataset = new TokenDataset(fs, file.getParent(), manifest, split, seqLen, verifySha256);
        // Training tasks open their split every round: say what it holds once per executor.
        boolean first = OncePerJvm.first("dataset " + fs.makeQualified(file) + " " + split + " " + seqLen);
        LOG.log(first ? Level.INFO : Level.DEBUG,
                "dataset {} split {}: {} shards, {} tokens, {} sequences of {}+1 on {}", manifest.datasetVersion(),
                split, dataset.shards.size(), dataset.tokenCount(), dataset.sequenceCount(), seqLen,
                fs.getScheme().equals("file") ? "local disk (memory-mapped)" : fs.getScheme() + " (positioned reads)");
        return dataset;
    }

    public Manifest manifest() {
        return manifest;
    }

    public String split() {
        return split;
    }

    public int seqLen() {
        return index.seqLen();
    }

    public long tokenCount() {
        return index.tokenCount();
    }

    public long sequenceCount() {
        return index.sequenceCount();
    }

    public int eosId() {
        return manifest.tokenizer().eosId();
    }

    /**
     * Refuses the dataset unless it was tokenized with the tokenizer of this SHA-256 (of its tokenizer.json bytes):
     * a trainer calls this with its model's tokenizer hash, so ids never meet a foreign vocabulary.
     */
    public void requireTokenizer(String tokenizerSha256) {
        if (!manifest.tokenizer().sha256().equals(tokenizerSha256)) {
            throw new UsageException("dataset " + manifest.datasetVersion() + " was tokenized with tokenizer "
                    + manifest.tokenizer().sha256() + " (" + manifest.tokenizer().path() + "), not " + tokenizerSha256
                    + ": re-tokenize with the model's tokenizer or train with the dataset's");
        }
    }

    /** Copies packed sequence {@code i} ({@code seqLen + 1} tokens) into {@code dst[offset..]}. */
    public void readSequence(long sequence, int[] dst, int offset) throws IOException {
        readTokens(index.firstToken(sequence), dst, offset, seqLen() + 1);
    }

    /** Copies packed sequence {@code i} as {@code seqLen + 1} int32 values into {@code dst} at byte {@code dstOffset}. */
    public void readSequence(long sequence, MemorySegment dst, long dstOffset) throws IOException {
        long from = index.firstToken(sequence);
        int count = seqLen() + 1;
        while (count > 0) {
            int s = index.shardOf(from);
            long inShard = from - index.shardFirstToken(s);
            int n = (int) Math.min(count, shards.get(s).tokens() - inShard);
            reader(s).readTokens(inShard, dst, dstOffset, n);
            from += n;
            dstOffset += 4L * n;
            count -= n;
        }
    }

    /** Copies {@code count} tokens of the split's stream starting at {@code from}. */
    public void readTokens(long from, int[] dst, int offset, int count) throws IOException {
        while (count > 0) {
            int s = index.shardOf(from);
            long inShard = from - index.shardFirstToken(s);
            int n = (int) Math.min(count, shards.get(s).tokens() - inShard);
            reader(s).readTokens(inShard, dst, offset, n);
            from += n;
            offset += n;
            count -= n;
        }
    }

    /**
     * Positions inside packed sequence {@code i} (0..seqLen) where a document starts, for per-document attention or
     * loss masks.
     */
    public int[] documentStartsIn(long sequence) throws IOException {
        long from = index.firstToken(sequence);
        long to = from + seqLen() + 1;
        List<Integer> starts = new ArrayList<>();
        for (int s = index.shardOf(from); s < shards.size() && index.shardFirstToken(s) < to; s++) {
            long base = index.shardFirstToken(s);
            for (long start : reader(s).documentStarts()) {
                long global = base + start;
                if (global >= from && global < to && (starts.isEmpty() || starts.getLast() != global - from)) {
                    starts.add((int) (global - from));
                }
            }
        }
        return starts.stream().mapToInt(Integer::intValue).toArray();
    }

    /** A loader starting at epoch 0 for {@code worker} of {@code workers}. */
    public SequenceLoader loader(long seed, int worker, int workers) {
        return new SequenceLoader(this, new ReaderState(manifest.datasetVersion(), split, tokenCount(), seqLen(), seed,
                workers, worker, 0, 0));
    }

    /** A loader continuing exactly where {@code state} was saved. */
    public SequenceLoader resume(ReaderState state) {
        if (!state.dataset().equals(manifest.datasetVersion()) || !state.split().equals(split)
                || state.tokens() != tokenCount() || state.seqLen() != seqLen()) {
            throw new UsageException("reader state " + state.encode() + " belongs to another dataset: this is "
                    + manifest.datasetVersion() + " split " + split + " with " + tokenCount() + " tokens at seqLen "
                    + seqLen());
        }
        return new SequenceLoader(this, state);
    }

    private ShardReader reader(int shard) throws IOException {
        ShardReader reader = readers[shard];
        if (reader == null) {
            synchronized (readers) {
                reader = readers[shard];
                if (reader == null) {
                    ShardInfo info = shards.get(shard);
                    reader = ShardReader.open(fs, new Path(directory, info.path()), info, manifest.tokenizer().sha256(),
                            verifySha256);
                    readers[shard] = reader;
                }
            }
        }
        return reader;
    }

    @Override
    public void close() throws IOException {
        synchronized (readers) {
            IOException first = null;
            for (int i = 0; i < readers.length; i++) {
                if (readers[i] != null) {
                    try {
                        readers[i].close();
                    } catch (IOException e) {
                        first = first == null ? e : first;
                    }
                    readers[i] = null;
                }
            }
            if (first != null) {
                throw first;
            }
        }
    }
}
