package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.util.List;

/**
 * Quality rules that suit Chinese, after MAP-CC / CT-LLM's filter: counts are of characters (Chinese has no
 * whitespace words), the CJK share guards against pages that are mostly markup or numbers, and repetition is
 * measured on character n-grams with MAP-CC's looser duplicate-n-gram limits; MAP-CC's character-entropy rule
 * guards against gibberish and tables of repeated symbols. Thresholds: {@code quality.zh.*}.
 */
public final class ChineseQualityRules implements Serializable {

    /** The {@code quality.zh.*} thresholds. */
    public record Thresholds(int minChars, int maxChars, double minCjkRatio, double minCharEntropy,
                             int entropyMinLength, double maxDigitRatio, RepetitionLimits repetition)
            implements Serializable {}

    private final Thresholds t;

    public ChineseQualityRules(Thresholds thresholds) {
        this.t = thresholds;
    }

    /** The first rule the text breaks ({@code zh_too_few_chars}, ...), or null. */
    public String check(String text, List<String> lines, ScriptCounts counts) {
        int[] codePoints = text.codePoints().filter(cp -> !Character.isWhitespace(cp)).toArray();
        int chars = codePoints.length;
        if (counts.cjk() < t.minChars()) {
            return "zh_too_few_chars";
        }
        if (chars > t.maxChars()) {
            return "zh_too_many_chars";
        }
        if ((double) counts.cjk() / chars < t.minCjkRatio()) {
            return "zh_low_cjk_ratio";
        }
        int digits = 0;
        long[] hashes = new long[chars];
        int[] lengths = new int[chars];
        for (int i = 0; i < chars; i++) {
            int cp = codePoints[i];
            if (Character.isDigit(cp)) {
                digits++;
            }
            hashes[i] = Hashing.mix64(cp);
            lengths[i] = 1;
        }
        if ((double) digits / chars > t.maxDigitRatio()) {
            return "zh_digit_ratio";
        }
        if (chars >= t.entropyMinLength() && charEntropy(codePoints) < t.minCharEntropy()) {
            return "zh_low_entropy";
        }
        return t.repetition().check(lines, hashes, lengths).map(r -> "zh_" + r).orElse(null);
    }

    /**
     * Character unigram entropy in nats. Unlike a distinct/total ratio it does not fall with length, so one
     * threshold suits a poem and a 20,000-character law alike.
     */
    static double charEntropy(int[] codePoints) {
        java.util.Map<Integer, Integer> counts = new java.util.HashMap<>();
        for (int cp : codePoints) {
            counts.merge(cp, 1, Integer::sum);
        }
        double entropy = 0;
        for (int c : counts.values()) {
            double p = (double) c / codePoints.length;
            entropy -= p * Math.log(p);
        }
        return entropy;
    }
}
