package org.sparkmoe.jobs.shards;

import java.util.Arrays;
import java.util.List;

/**
 * Megatron-style sample index of one split, built from the manifest alone: the split's token stream is its shards
 * concatenated in manifest order, and packed sequence i is the {@code seqLen + 1} tokens starting at i·seqLen
 * (inputs are the first seqLen, targets the last seqLen; consecutive sequences share one token, as in Megatron).
 * Documents were globally shuffled when written, so the stream already interleaves sources; sequences cross
 * document (and shard) boundaries, which the EOS tokens mark.
 */
public final class SequenceIndex {

    private final long[] shardFirstToken;
    private final int seqLen;

    public SequenceIndex(List<ShardInfo> shards, int seqLen) {
        if (seqLen <= 0) {
            throw new IllegalArgumentException("seqLen must be positive, got " + seqLen);
        }
        this.seqLen = seqLen;
        this.shardFirstToken = new long[shards.size() + 1];
        for (int s = 0; s < shards.size(); s++) {
            shardFirstToken[s + 1] = shardFirstToken[s] + shards.get(s).tokens();
        }
    }

    public int seqLen() {
        return seqLen;
    }

    public long tokenCount() {
        return shardFirstToken[shardFirstToken.length - 1];
    }

    /** Packed sequences: floor((tokens - 1) / seqLen); the tail that does not fill one is not used. */
    public long sequenceCount() {
        return tokenCount() <= seqLen ? 0 : (tokenCount() - 1) / seqLen;
    }

    /** Stream position of sequence {@code i}'s first token. */
    public long firstToken(long sequence) {
        if (sequence < 0 || sequence >= sequenceCount()) {
            throw new IndexOutOfBoundsException("sequence " + sequence + " of " + sequenceCount());
        }
        return sequence * seqLen;
    }

    /** The shard holding stream position {@code token}. */
    public int shardOf(long token) {
        int i = Arrays.binarySearch(shardFirstToken, token);
        if (i < 0) {
            return -i - 2;
        }
        while (i + 1 < shardFirstToken.length - 1 && shardFirstToken[i + 1] == token) {
            i++;
        }
        return i;
    }

    /** Stream position of shard {@code s}'s first token. */
    public long shardFirstToken(int shard) {
        return shardFirstToken[shard];
    }
}
