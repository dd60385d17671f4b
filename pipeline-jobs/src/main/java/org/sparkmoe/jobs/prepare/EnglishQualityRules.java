package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.util.List;
import java.util.Set;

/**
 * Gopher quality rules for English (Rae et al. 2021; the DataTrove GopherQualityFilter defaults) plus the Gopher
 * repetition rules. Words are whitespace-separated tokens, as in Gopher. Thresholds come from
 * {@code conf/prepare.properties} ({@code quality.en.*}); docs/prepare.md says why each value.
 */
public final class EnglishQualityRules implements Serializable {

    /** The {@code quality.en.*} thresholds. */
    public record Thresholds(int minWords, int maxWords, double minMeanWordLength, double maxMeanWordLength,
                             double maxSymbolWordRatio, double maxBulletLineFraction,
                             double maxEllipsisLineFraction, double minAlphaWordFraction, int minStopWords,
                             RepetitionLimits repetition) implements Serializable {}

    /** Gopher's stop words: real English prose has at least two of them. */
    private static final Set<String> STOP_WORDS = Set.of("the", "be", "to", "of", "and", "that", "have", "with");

    private final Thresholds t;

    public EnglishQualityRules(Thresholds thresholds) {
        this.t = thresholds;
    }

    /** The first rule the text breaks ({@code en_too_few_words}, ...), or null. */
    public String check(String text, List<String> lines) {
        String[] words = text.split("\\s+");
        int count = words.length > 0 && words[0].isEmpty() ? words.length - 1 : words.length;
        if (count < t.minWords()) {
            return "en_too_few_words";
        }
        if (count > t.maxWords()) {
            return "en_too_many_words";
        }
        long wordChars = 0;
        int alphaWords = 0;
        int stopWords = 0;
        int symbols = 0;
        long[] hashes = new long[count];
        int[] lengths = new int[count];
        int w = 0;
        for (String word : words) {
            if (word.isEmpty()) {
                continue;
            }
            wordChars += word.length();
            if (word.chars().anyMatch(Character::isLetter)) {
                alphaWords++;
            }
            if (STOP_WORDS.contains(word.toLowerCase(java.util.Locale.ROOT))) {
                stopWords++;
            }
            if (word.equals("#") || word.contains("...") || word.contains("…")) {
                symbols++;
            }
            hashes[w] = Hashing.hash(word);
            lengths[w] = word.length();
            w++;
        }
        double meanLength = (double) wordChars / count;
        if (meanLength < t.minMeanWordLength() || meanLength > t.maxMeanWordLength()) {
            return "en_mean_word_length";
        }
        if ((double) symbols / count > t.maxSymbolWordRatio()) {
            return "en_symbol_ratio";
        }
        int bullets = 0;
        int ellipsisEnds = 0;
        for (String line : lines) {
            String s = line.strip();
            if (s.startsWith("•") || s.startsWith("●") || s.startsWith("- ") || s.startsWith("* ") || s.startsWith("‣")) {
                bullets++;
            }
            if (s.endsWith("...") || s.endsWith("…")) {
                ellipsisEnds++;
            }
        }
        if (!lines.isEmpty() && (double) bullets / lines.size() > t.maxBulletLineFraction()) {
            return "en_bullet_lines";
        }
        if (!lines.isEmpty() && (double) ellipsisEnds / lines.size() > t.maxEllipsisLineFraction()) {
            return "en_ellipsis_lines";
        }
        if ((double) alphaWords / count < t.minAlphaWordFraction()) {
            return "en_alpha_words";
        }
        if (stopWords < t.minStopWords()) {
            return "en_stop_words";
        }
        return t.repetition().check(lines, hashes, lengths).map(r -> "en_" + r).orElse(null);
    }
}
