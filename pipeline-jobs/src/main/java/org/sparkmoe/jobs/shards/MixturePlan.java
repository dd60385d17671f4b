package org.sparkmoe.jobs.shards;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * How many times each language's train documents are used: a rate r per language, applied per document as
 * floor(r) copies plus one more when the document's id hash falls below the language's threshold, chosen so that
 * the extra copies add up to frac(r) of the language's tokens ({@link MixtureSampler}).
 *
 * @param languages  per language, in the manifest's {@code mixture} section
 * @param thresholds per language, the hash threshold in [0, 1] of the extra copy (absent: frac(r) itself)
 */
public record MixturePlan(Map<String, Language> languages, Map<String, Double> thresholds) implements Serializable {

    public MixturePlan {
        languages = new TreeMap<>(languages);
        thresholds = new TreeMap<>(thresholds);
    }

    /** The same plan with hash thresholds that hit each language's fractional target (see MixtureSampler). */
    public MixturePlan withThresholds(Map<String, Double> newThresholds) {
        return new MixturePlan(languages, newThresholds);
    }

    /** How many copies of a document of {@code language} go into the train split. */
    public int copies(long seed, String docId, String language) {
        double rate = rate(language);
        int whole = (int) Math.floor(rate);
        double threshold = thresholds.getOrDefault(language, rate - whole);
        return whole + (MixtureSampler.position(seed, docId) < threshold ? 1 : 0);
    }

    /**
     * One language of the mixture.
     *
     * @param availableTokens train tokens of this language in the input
     * @param targetShare     the share asked for (0 when the language is not listed: dropped)
     * @param rate            expected uses of each document: below 1 down-samples, above 1 repeats
     * @param maxCopies       the most copies of one document (ceil of the rate)
     * @param tokens          train tokens written for this language (filled after writing; -1 in a plan)
     * @param reachedShare    tokens / all train tokens written (filled after writing; -1 in a plan)
     */
    public record Language(long availableTokens, double targetShare, double rate, int maxCopies, long tokens,
                           double reachedShare) implements Serializable {}

    public double rate(String language) {
        Language l = languages.get(language);
        return l == null ? 0.0 : l.rate();
    }
}
