package org.sparkmoe.tokenizer.bpe;

/**
 * Open-addressing hash map from a token pair {@code (left, right)} to its merge: the rank (position in the merge
 * list, lower merges first) and the id of the merged token. Primitive arrays only: a lookup allocates nothing.
 */
final class MergeTable {

    static final long ABSENT = -1L;

    private final long[] keys;
    private final long[] values;
    private final int mask;

    MergeTable(int expected) {
        int capacity = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        values = new long[capacity];
        java.util.Arrays.fill(keys, ABSENT);
        mask = capacity - 1;
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }

    /**
     * Adds a merge. A pair listed twice keeps its later entry, as HF's BPE does (it collects the merge list into a
     * map); returns false in that case so the reader can count duplicates.
     */
    boolean put(int left, int right, int rank, int mergedId) {
        long k = key(left, right);
        int i = slot(k, mask);
        while (keys[i] != ABSENT && keys[i] != k) {
            i = (i + 1) & mask;
        }
        boolean fresh = keys[i] == ABSENT;
        keys[i] = k;
        values[i] = ((long) rank << 32) | (mergedId & 0xFFFFFFFFL);
        return fresh;
    }

    /** {@code rank << 32 | mergedId}, or {@link #ABSENT}. */
    long get(int left, int right) {
        long k = key(left, right);
        int i = slot(k, mask);
        while (true) {
            long found = keys[i];
            if (found == k) {
                return values[i];
            }
            if (found == ABSENT) {
                return ABSENT;
            }
            i = (i + 1) & mask;
        }
    }
}
