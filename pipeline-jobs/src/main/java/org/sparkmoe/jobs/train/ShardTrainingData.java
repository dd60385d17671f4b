package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.ReaderState;
import org.sparkmoe.jobs.shards.SequenceLoader;
import org.sparkmoe.jobs.shards.ShardInfo;
import org.sparkmoe.jobs.shards.TokenDataset;
import org.sparkmoe.jobs.spark.JobHadoop;

/**
 * The training split of a token-shard dataset (docs/shard-format.md) through the shards' {@link TokenDataset} and
 * {@link SequenceLoader}: worker w of W reads positions w, w+W, ... of each epoch's shuffled order.
 *
 * <p>Tasks open the dataset without re-hashing each shard every round (length, layout, counts and tokenizer are
 * still checked on open); {@code verify-shards} makes the driver hash every shard once before training starts.
 *
 * @param manifestUri   the manifest (or its dataset directory), fully qualified
 * @param tokenizerHash the manifest's tokenizer SHA-256
 * @param vocabSize     the manifest's tokenizer vocabulary size
 * @param tokens        tokens in the training split
 * @param seed          the shuffle seed
 */
public record ShardTrainingData(String manifestUri, String tokenizerHash, int vocabSize, long tokens, long seed)
        implements TrainingData {

    /** Reads the manifest on the driver; with {@code verify} every shard's SHA-256 is checked once. */
    public static ShardTrainingData open(String manifestUri, long seed, boolean verify, Configuration conf) throws IOException {
        Path path = new Path(manifestUri);
        FileSystem fs = path.getFileSystem(conf);
        Path file = fs.makeQualified(Manifest.manifestFile(fs, path));
        Manifest manifest = Manifest.read(fs, file);
        long tokens = manifest.split(Manifest.TRAIN).tokens();
        if (verify) {
            // Touching each shard's first token opens it, and the first open hashes the whole file.
            try (TokenDataset dataset = TokenDataset.open(file.toString(), Manifest.TRAIN, 1, conf, true)) {
                int[] pair = new int[2];
                long shardStart = 0;
                for (ShardInfo shard : manifest.split(Manifest.TRAIN).shards()) {
                    if (shard.tokens() > 0 && shardStart < dataset.sequenceCount()) {
                        dataset.readSequence(shardStart, pair, 0);
                    }
                    shardStart += shard.tokens();
                }
            }
        }
        return new ShardTrainingData(file.toString(), manifest.tokenizer().sha256(), manifest.tokenizer().vocabSize(),
                tokens, seed);
    }

    @Override
    public long sequenceCount(int seqLen) {
        // Packing cuts the split's token stream into windows of seqLen + 1 that overlap by one token (the shards'
        // sample index): the shifted target of one sequence is the first input of the next.
        return tokens <= 1 ? 0 : (tokens - 1) / seqLen;
    }

    @Override
    public TokenStream open(int worker, int workers, int seqLen, String state) {
        try {
            TokenDataset dataset = TokenDataset.open(manifestUri, Manifest.TRAIN, seqLen, JobHadoop.current(), false);
            SequenceLoader loader = state == null ? dataset.loader(seed, worker, workers)
                    : dataset.resume(ReaderState.decode(state));
            return new TokenStream() {
                @Override
                public int[] next(int batch) {
                    int[] batch_BT1 = new int[batch * (seqLen + 1)];
                    try {
                        loader.nextBatch(batch_BT1, batch);
                    } catch (IOException e) {
                        throw new UncheckedIOException("reading " + manifestUri + " for worker " + worker, e);
                    }
                    return batch_BT1;
                }

                @Override
                public String state() {
                    return loader.state().encode();
                }

                @Override
                public void close() {
                    try {
                        dataset.close();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            };
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open dataset " + manifestUri + " for worker " + worker, e);
        }
    }
}
