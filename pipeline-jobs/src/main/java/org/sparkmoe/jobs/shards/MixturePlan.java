package org.sparkmoe.jobs.shards;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * How many times each language's train documents are used: a rate r per language, applied per document as
 * floor(r) copies plus one more with probability frac(r), decided by a stable hash of the document id
 * ({@link MixtureSampler}). {@link #languages} also reports what the plan reaches.
 *
 * @param languages per language, in the manifest's {@code mixture} section
 */
public record MixturePlan(Map<String, Language> languages) implements Serializable {

    public MixturePlan {
        languages = new TreeMap<>(languages);
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
