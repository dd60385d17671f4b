package org.sparkmoe.jobs.shards;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * One worker's endless stream of packed sequences: epoch e visits every sequence once in the order
 * {@link EpochOrder#permutation}(n, seed, e); worker w of W takes the positions w, w+W, w+2W, ... of that order, so
 * W workers cover every sequence exactly once per epoch with no overlap (their counts differ by at most one).
 * After its last sequence of an epoch a worker moves on to the next epoch. {@link #state()} is the resume point.
 * Not thread-safe: one loader per consumer thread.
 */
public final class SequenceLoader {

    private final TokenDataset dataset;
    private final long seed;
    private final int workers;
    private final int worker;
    private final int sequences;
    private int epoch;
    private long position;
    private int[] order;
    private int orderEpoch = -1;

    SequenceLoader(TokenDataset dataset, ReaderState state) {
        this.dataset = dataset;
        this.seed = state.seed();
        this.workers = state.workers();
        this.worker = state.worker();
        if (dataset.sequenceCount() > Integer.MAX_VALUE - 8) {
            throw new UsageException("split has " + dataset.sequenceCount() + " sequences; the epoch order holds at most"
                    + " 2^31: use a longer seqLen or fewer tokens per version");
        }
        this.sequences = (int) dataset.sequenceCount();
        if (sequences <= worker) {
            throw new UsageException("dataset " + state.dataset() + " split " + state.split() + " has only " + sequences
                    + " sequences of " + state.seqLen() + "+1 tokens, fewer than " + workers + " workers need");
        }
        this.epoch = state.epoch();
        this.position = state.position();
        if (position > sequencesPerEpoch()) {
            throw new UsageException("reader state position " + position + " is past worker " + worker + "'s "
                    + sequencesPerEpoch() + " sequences per epoch");
        }
    }

    /** Sequences this worker returns per epoch: ceil((n - worker) / workers). */
    public long sequencesPerEpoch() {
        return (sequences - 1 - worker) / workers + 1;
    }

    public int epoch() {
        return epoch;
    }

    /** The index (into {@link TokenDataset#readSequence}) of the next sequence, advancing past it. */
    public int nextIndex() {
        if (position == sequencesPerEpoch()) {
            epoch++;
            position = 0;
        }
        if (order == null || orderEpoch != epoch) {
            order = EpochOrder.permutation(sequences, seed, epoch);
            orderEpoch = epoch;
        }
        int sequence = order[(int) (worker + position * workers)];
        position++;
        return sequence;
    }

    /** Reads the next sequence ({@code seqLen + 1} tokens) into {@code dst[offset..]}. */
    public void next(int[] dst, int offset) throws IOException {
        dataset.readSequence(nextIndex(), dst, offset);
    }

    /** Fills {@code dst} with {@code batchSize} sequences, row-major: {@code batch_BT1[b * (seqLen + 1) + t]}. */
    public void nextBatch(int[] batch_BT1, int batchSize) throws IOException {
        int row = dataset.seqLen() + 1;
        checkCapacity(batch_BT1.length, (long) batchSize * row);
        for (int b = 0; b < batchSize; b++) {
            dataset.readSequence(nextIndex(), batch_BT1, b * row);
        }
    }

    /** Off-heap {@link #nextBatch(int[], int)}: int32 values from byte 0 of {@code batch_BT1}, ready for the engine. */
    public void nextBatch(MemorySegment batch_BT1, int batchSize) throws IOException {
        long rowBytes = 4L * (dataset.seqLen() + 1);
        checkCapacity(batch_BT1.byteSize() / 4, (long) batchSize * (dataset.seqLen() + 1));
        for (int b = 0; b < batchSize; b++) {
            dataset.readSequence(nextIndex(), batch_BT1, b * rowBytes);
        }
    }

    private static void checkCapacity(long capacity, long needed) {
        if (capacity < needed) {
            throw new IllegalArgumentException("batch buffer holds " + capacity + " ints, needs " + needed);
        }
    }

    /** Where this loader stands; {@link TokenDataset#resume} continues on exactly the next sequence. */
    public ReaderState state() {
        Manifest manifest = dataset.manifest();
        return new ReaderState(manifest.datasetVersion(), dataset.split(), dataset.tokenCount(), dataset.seqLen(), seed,
                workers, worker, epoch, position);
    }
}
