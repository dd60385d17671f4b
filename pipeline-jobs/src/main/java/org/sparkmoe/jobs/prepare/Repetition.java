package org.sparkmoe.jobs.prepare;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Gopher repetition statistics (Rae et al. 2021, as in DataTrove's GopherRepetitionFilter) over a sequence of
 * tokens: English words, or single characters for Chinese.
 *
 * <ul>
 *   <li>{@link #duplicateLineFraction}: share of non-blank lines that repeat an earlier line;</li>
 *   <li>{@link #duplicateLineCharFraction}: share of line characters in such repeats;</li>
 *   <li>{@link #topNgramCharFraction}: characters covered by the most frequent n-gram (counted once per
 *       occurrence), over all token characters;</li>
 *   <li>{@link #duplicateNgramCharFraction}: characters of tokens covered by any n-gram that occurs more than
 *       once, over all token characters.</li>
 * </ul>
 */
final class Repetition {

    private Repetition() {}

    /** Non-blank lines of a text. */
    static List<String> lines(String text) {
        return text.lines().filter(l -> !l.isBlank()).toList();
    }

    static double duplicateLineFraction(List<String> lines) {
        if (lines.isEmpty()) {
            return 0;
        }
        Map<String, Integer> seen = new HashMap<>();
        int repeats = 0;
        for (String line : lines) {
            if (seen.merge(line, 1, Integer::sum) > 1) {
                repeats++;
            }
        }
        return (double) repeats / lines.size();
    }

    static double duplicateLineCharFraction(List<String> lines) {
        Map<String, Integer> seen = new HashMap<>();
        long total = 0;
        long repeated = 0;
        for (String line : lines) {
            total += line.length();
            if (seen.merge(line, 1, Integer::sum) > 1) {
                repeated += line.length();
            }
        }
        return total == 0 ? 0 : (double) repeated / total;
    }

    static double topNgramCharFraction(long[] tokenHashes, int[] tokenLengths, int n) {
        int windows = tokenHashes.length - n + 1;
        long totalChars = totalChars(tokenLengths);
        if (windows <= 1 || totalChars == 0) {
            return 0;
        }
        LongCounter counts = new LongCounter(windows);
        long bestKey = 0;
        int bestCount = 0;
        int bestStart = 0;
        for (int i = 0; i < windows; i++) {
            long key = windowHash(tokenHashes, i, n);
            int c = counts.increment(key);
            if (c > bestCount) {
                bestCount = c;
                bestKey = key;
                bestStart = i;
            }
        }
        if (bestCount < 2) {
            return 0;
        }
        long gramChars = 0;
        for (int k = bestStart; k < bestStart + n; k++) {
            gramChars += tokenLengths[k];
        }
        return Math.min(1.0, (double) bestCount * gramChars / totalChars);
    }

    static double duplicateNgramCharFraction(long[] tokenHashes, int[] tokenLengths, int n) {
        int windows = tokenHashes.length - n + 1;
        long totalChars = totalChars(tokenLengths);
        if (windows <= 1 || totalChars == 0) {
            return 0;
        }
        long[] keys = new long[windows];
        LongCounter counts = new LongCounter(windows);
        for (int i = 0; i < windows; i++) {
            keys[i] = windowHash(tokenHashes, i, n);
            counts.increment(keys[i]);
        }
        boolean[] covered = new boolean[tokenHashes.length];
        for (int i = 0; i < windows; i++) {
            if (counts.get(keys[i]) > 1) {
                Arrays.fill(covered, i, i + n, true);
            }
        }
        long dupChars = 0;
        for (int k = 0; k < covered.length; k++) {
            if (covered[k]) {
                dupChars += tokenLengths[k];
            }
        }
        return (double) dupChars / totalChars;
    }

    private static long totalChars(int[] lengths) {
        long total = 0;
        for (int l : lengths) {
            total += l;
        }
        return total;
    }

    private static long windowHash(long[] tokenHashes, int start, int n) {
        long h = 0x9E3779B97F4A7C15L;
        for (int k = start; k < start + n; k++) {
            h = Hashing.mix64(h * 31 + tokenHashes[k]);
        }
        return h;
    }

    /** An open-addressing long → count table; no boxing in the hot loop. */
    static final class LongCounter {
        private final long[] keys;
        private final int[] counts;
        private final int mask;

        LongCounter(int expected) {
            int capacity = Integer.highestOneBit(Math.max(4, expected * 2 - 1)) << 1;
            keys = new long[capacity];
            counts = new int[capacity];
            mask = capacity - 1;
        }

        int increment(long key) {
            int slot = find(key);
            keys[slot] = key;
            return ++counts[slot];
        }

        int get(long key) {
            return counts[find(key)];
        }

        private int find(long key) {
            int slot = (int) Hashing.mix64(key) & mask;
            while (counts[slot] != 0 && keys[slot] != key) {
                slot = (slot + 1) & mask;
            }
            return slot;
        }
    }
}
