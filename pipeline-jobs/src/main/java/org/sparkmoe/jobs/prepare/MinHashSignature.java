package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/**
 * MinHash signatures over token shingles (Broder 1997). Each shingle of {@code shingleSize} consecutive tokens
 * (see {@link DedupText#tokenHashes}) is hashed to 64 bits; the signature holds, for each of
 * {@code numHashes} = bands × rows independent hash functions, the minimum over the document's shingles.
 * The hash functions are {@code mix64(shingle ^ seed_i)} with seeds from a fixed-seed generator, so signatures
 * are identical across runs and machines. Two documents agree on one signature slot with probability equal to
 * their shingle-set Jaccard similarity.
 *
 * <p>Signatures are stored as {@code numHashes × 8} big-endian bytes (a Parquet/Spark {@code binary}).
 */
public final class MinHashSignature implements Serializable {

    private final int shingleSize;
    private final long[] seeds;

    public MinHashSignature(int shingleSize, int numHashes, long seed) {
        this.shingleSize = shingleSize;
        SplittableRandom random = new SplittableRandom(seed);
        this.seeds = new long[numHashes];
        for (int i = 0; i < numHashes; i++) {
            seeds[i] = random.nextLong();
        }
    }

    public int numHashes() {
        return seeds.length;
    }

    /** The distinct shingle hashes of a text, sorted; empty when it has no tokens. */
    public long[] shingleHashes(String text) {
        long[] tokens = DedupText.tokenHashes(text);
        return tokens.length == 0 ? tokens : shingles(tokens, shingleSize);
    }

    /** The signature of a text, or null when it has no tokens (nothing to compare). */
    public byte[] of(String text) {
        long[] shingles = shingleHashes(text);
        if (shingles.length == 0) {
            return null;
        }
        long[] mins = new long[seeds.length];
        java.util.Arrays.fill(mins, Long.MAX_VALUE);
        for (long s : shingles) {
            for (int i = 0; i < seeds.length; i++) {
                long h = Hashing.mix64(s ^ seeds[i]);
                if (h < mins[i]) {
                    mins[i] = h;
                }
            }
        }
        ByteBuffer out = ByteBuffer.allocate(8 * mins.length);
        for (long m : mins) {
            out.putLong(m);
        }
        return out.array();
    }

    /** Distinct-enough shingle hashes; a text shorter than one shingle is one shingle of all its tokens. */
    static long[] shingles(long[] tokens, int size) {
        int count = Math.max(1, tokens.length - size + 1);
        long[] out = new long[count];
        for (int i = 0; i < count; i++) {
            long h = 0x2545F4914F6CDD1DL;
            for (int k = i; k < Math.min(tokens.length, i + size); k++) {
                h = Hashing.mix64(h * 31 + tokens[k]);
            }
            out[i] = h;
        }
        java.util.Arrays.sort(out);
        int distinct = 0;
        for (int i = 0; i < out.length; i++) {
            if (i == 0 || out[i] != out[i - 1]) {
                out[distinct++] = out[i];
            }
        }
        return java.util.Arrays.copyOf(out, distinct);
    }

    /** The share of equal slots: an unbiased estimate of the Jaccard similarity of the two shingle sets. */
    public static double estimatedJaccard(byte[] a, byte[] b) {
        ByteBuffer x = ByteBuffer.wrap(a);
        ByteBuffer y = ByteBuffer.wrap(b);
        int slots = a.length / 8;
        int equal = 0;
        for (int i = 0; i < slots; i++) {
            if (x.getLong(8 * i) == y.getLong(8 * i)) {
                equal++;
            }
        }
        return (double) equal / slots;
    }
}
