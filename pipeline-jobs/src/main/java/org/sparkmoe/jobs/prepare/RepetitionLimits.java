package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.util.List;
import java.util.Optional;

/**
 * Gopher repetition thresholds for one language; the statistics are from {@link Repetition}.
 *
 * @param maxDupLineFraction     share of lines that repeat an earlier line
 * @param maxDupLineCharFraction share of line characters in repeated lines
 * @param maxTopNgram            for n = 2, 3, 4: limit on the characters covered by the most frequent n-gram
 * @param maxDupNgram            for n = 5 … 10: limit on the characters covered by repeated n-grams
 */
public record RepetitionLimits(double maxDupLineFraction, double maxDupLineCharFraction,
                               List<Double> maxTopNgram, List<Double> maxDupNgram) implements Serializable {

    public static final int FIRST_TOP_N = 2;
    public static final int FIRST_DUP_N = 5;

    public RepetitionLimits {
        maxTopNgram = List.copyOf(maxTopNgram);
        maxDupNgram = List.copyOf(maxDupNgram);
    }

    /** The first limit the text breaks, as a reason such as {@code dup_ngram_5}, or empty. */
    Optional<String> check(List<String> lines, long[] tokenHashes, int[] tokenLengths) {
        if (Repetition.duplicateLineFraction(lines) > maxDupLineFraction) {
            return Optional.of("dup_lines");
        }
        if (Repetition.duplicateLineCharFraction(lines) > maxDupLineCharFraction) {
            return Optional.of("dup_line_chars");
        }
        for (int i = 0; i < maxTopNgram.size(); i++) {
            int n = FIRST_TOP_N + i;
            if (Repetition.topNgramCharFraction(tokenHashes, tokenLengths, n) > maxTopNgram.get(i)) {
                return Optional.of("top_ngram_" + n);
            }
        }
        for (int i = 0; i < maxDupNgram.size(); i++) {
            int n = FIRST_DUP_N + i;
            if (Repetition.duplicateNgramCharFraction(tokenHashes, tokenLengths, n) > maxDupNgram.get(i)) {
                return Optional.of("dup_ngram_" + n);
            }
        }
        return Optional.empty();
    }
}
