package org.sparkmoe.jobs.train;

import java.io.Serializable;

/**
 * A token dataset as the trainer sees it: sequences of {@code seqLen + 1} tokens split across W workers with no
 * overlap and no gap, in a deterministic shuffled order per epoch. Shipped to every task, so it holds only locations,
 * seeds and the facts the driver checks. {@link ShardTrainingData} is the implementation over Arrow token shards.
 */
public interface TrainingData extends Serializable {

    /** The manifest's location, copied into the run directory. */
    String manifestUri();

    /** The hash of the tokenizer that made the data; must equal the model's. */
    String tokenizerHash();

    /** The tokenizer's vocabulary size; must not exceed the model's. */
    int vocabSize();

    /** How many packed sequences of {@code seqLen + 1} tokens the training split holds. */
    long sequenceCount(int seqLen);

    /**
     * Worker {@code worker} of {@code workers}, reading sequences of {@code seqLen + 1} tokens, continuing from
     * {@code state} (as returned by {@link TokenStream#state()}), or from the start when it is null.
     */
    TokenStream open(int worker, int workers, int seqLen, String state);

    /** One worker's sequences, in order. */
    interface TokenStream extends AutoCloseable {

        /** The next {@code batch} sequences, row after row ({@code batch_BT1[b * (seqLen + 1) + t]}). */
        int[] next(int batch);

        /** Where the stream stands, as one line: reopening with it continues on exactly the next sequence. */
        String state();

        @Override
        void close();
    }
}
