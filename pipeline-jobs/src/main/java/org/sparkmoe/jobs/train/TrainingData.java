package org.sparkmoe.jobs.train;

import java.io.Serializable;

/**
 * A token dataset as the trainer sees it: fixed-length sequences split across W workers with no overlap and no gap,
 * in a deterministic shuffled order per epoch. Shipped to every task, so it holds only locations and seeds.
 */
public interface TrainingData extends Serializable {

    /** The manifest's location, copied into the run directory. */
    String manifestUri();

    /** The hash of the tokenizer that made the data; must equal the model's. */
    String tokenizerHash();

    /** The length of each stored sequence (inputs plus the shifted target), or the longest the reader can pack. */
    int seqLenPlusOne();

    /** Worker {@code worker} of {@code workers}, positioned after {@code position} sequences of its own split. */
    TokenStream open(int worker, int workers, long position);

    /** One worker's sequences, in order. */
    interface TokenStream extends AutoCloseable {

        /** The next {@code batch} sequences of {@code seqLenPlusOne} tokens, row after row. */
        int[] next(int batch, int seqLenPlusOne);

        /** Sequences of this worker's split consumed so far: reopening at this position continues exactly here. */
        long position();

        @Override
        void close();
    }
}
