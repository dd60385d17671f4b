package org.sparkmoe.tokenizer.train;

import java.util.Arrays;

/**
 * The trainer's pair statistics: for each symbol pair, its weighted count and the words it occurs in, in parallel
 * primitive arrays behind an open-addressing index (boxed {@code Long} keys hash {@code left ^ right}, which
 * collides for nearly every pair of nearby ids). Pairs are never removed; a merged pair keeps count 0.
 */
final class PairTable {

    private long[] keys;
    private int[] slots;
    private int mask;
    private int size;

    private int[] lefts = new int[1024];
    private int[] rights = new int[1024];
    private long[] counts = new long[1024];
    private int[][] words = new int[1024][];
    private int[] wordCounts = new int[1024];

    PairTable(int expected) {
        int capacity = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        slots = new int[capacity];
        mask = capacity - 1;
    }

    static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private static int hash(long key) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 32);
    }

    /** The index of pair (left, right), or -1. */
    int find(int left, int right) {
        long k = key(left, right);
        for (int i = hash(k) & mask; ; i = (i + 1) & mask) {
            if (slots[i] == 0) {
                return -1;
            }
            if (keys[i] == k) {
                return slots[i] - 1;
            }
        }
    }

    /** The index of pair (left, right), added with count 0 when new. */
    int intern(int left, int right) {
        long k = key(left, right);
        int i = hash(k) & mask;
        for (; slots[i] != 0; i = (i + 1) & mask) {
            if (keys[i] == k) {
                return slots[i] - 1;
            }
        }
        int index = size++;
        keys[i] = k;
        slots[i] = index + 1;
        if (index == lefts.length) {
            int c = index * 2;
            lefts = Arrays.copyOf(lefts, c);
            rights = Arrays.copyOf(rights, c);
            counts = Arrays.copyOf(counts, c);
            words = Arrays.copyOf(words, c);
            wordCounts = Arrays.copyOf(wordCounts, c);
        }
        lefts[index] = left;
        rights[index] = right;
        words[index] = new int[2];
        if (size * 2 > keys.length) {
            rehash();
        }
        return index;
    }

    private void rehash() {
        int capacity = keys.length * 2;
        keys = new long[capacity];
        slots = new int[capacity];
        mask = capacity - 1;
        for (int index = 0; index < size; index++) {
            long k = key(lefts[index], rights[index]);
            int i = hash(k) & mask;
            while (slots[i] != 0) {
                i = (i + 1) & mask;
            }
            keys[i] = k;
            slots[i] = index + 1;
        }
    }

    int size() {
        return size;
    }

    int left(int index) {
        return lefts[index];
    }

    int right(int index) {
        return rights[index];
    }

    long count(int index) {
        return counts[index];
    }

    void addCount(int index, long delta) {
        counts[index] += delta;
    }

    /** Records that the pair occurs in word {@code w}; words are visited one at a time, so repeats are adjacent. */
    void addWord(int index, int w) {
        int n = wordCounts[index];
        int[] ws = words[index];
        if (n > 0 && ws[n - 1] == w) {
            return;
        }
        if (n == ws.length) {
            ws = Arrays.copyOf(ws, n * 2);
            words[index] = ws;
        }
        ws[n] = w;
        wordCounts[index] = n + 1;
    }

    /** A copy of the words the pair was seen in (some may no longer contain it). */
    int[] words(int index) {
        return Arrays.copyOf(words[index], wordCounts[index]);
    }

    /** Frees the word list of a merged pair. */
    void clearWords(int index) {
        words[index] = new int[0];
        wordCounts[index] = 0;
    }
}
