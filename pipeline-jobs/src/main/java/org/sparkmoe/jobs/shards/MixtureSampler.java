package org.sparkmoe.jobs.shards;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * Language mixture of the train split: target token shares reached by down-sampling or by repeating documents,
 * at most {@code maxEpochs} uses of a document.
 *
 * <p>Planning: with shares s (normalised over the listed languages) and available train tokens A, the train split
 * gets T tokens, either the configured total or, when that is 0, the largest T that needs no repetition
 * (min over languages of A/s: the scarcest language is used once, the others down-sampled). Each language's rate
 * is T·s/A, capped at {@code maxEpochs}; a capped language falls short of its share, which the manifest reports.
 * Without shares every language keeps rate 1 (the natural mixture).
 *
 * <p>Sampling is per document and stable: a document's copies depend only on its id, the seed and the rate, so a
 * refresh that adds documents does not reshuffle the decisions made for the old ones.
 */
public final class MixtureSampler {

    private MixtureSampler() {}

    /**
     * @param availableTokens train tokens per language in the input
     * @param shares          target share per language; empty for the natural mixture
     * @param maxEpochs       the most uses of one document (at least 1)
     * @param totalTokens     wanted train tokens, or 0 for the largest total without repetition
     */
    public static MixturePlan plan(Map<String, Long> availableTokens, Map<String, Double> shares, double maxEpochs,
                                   long totalTokens) {
        if (maxEpochs < 1) {
            throw new UsageException("mixture.max-epochs=" + maxEpochs + " must be at least 1");
        }
        Map<String, MixturePlan.Language> languages = new TreeMap<>();
        long availableAll = availableTokens.values().stream().mapToLong(Long::longValue).sum();
        if (shares.isEmpty()) {
            availableTokens.forEach((lang, available) -> languages.put(lang, new MixturePlan.Language(available,
                    availableAll == 0 ? 0 : (double) available / availableAll, 1.0, 1, -1, -1)));
            return new MixturePlan(languages, Map.of());
        }
        double shareSum = shares.values().stream().mapToDouble(Double::doubleValue).sum();
        if (!(shareSum > 0)) {
            throw new UsageException("mixture.shares " + shares + " must give at least one language a positive share");
        }
        double total = totalTokens;
        if (totalTokens == 0) {
            total = Double.POSITIVE_INFINITY;
            for (Map.Entry<String, Double> share : shares.entrySet()) {
                long available = availableTokens.getOrDefault(share.getKey(), 0L);
                if (share.getValue() > 0 && available > 0) {
                    total = Math.min(total, available / (share.getValue() / shareSum));
                }
            }
            if (Double.isInfinite(total)) {
                throw new UsageException("none of the languages in mixture.shares " + shares.keySet()
                        + " occur in the input, which has " + availableTokens.keySet());
            }
        }
        Map<String, Long> all = new LinkedHashMap<>(availableTokens);
        shares.keySet().forEach(lang -> all.putIfAbsent(lang, 0L));
        for (Map.Entry<String, Long> entry : all.entrySet()) {
            String lang = entry.getKey();
            long available = entry.getValue();
            double share = shares.getOrDefault(lang, 0.0) / shareSum;
            double rate = available == 0 ? 0.0 : Math.min(total * share / available, maxEpochs);
            languages.put(lang, new MixturePlan.Language(available, share, rate, (int) Math.ceil(rate), -1, -1));
        }
        return new MixturePlan(languages, Map.of());
    }

    /** Histogram resolution of {@link #threshold}: the share error is at most one bin's tokens plus one document. */
    public static final int BINS = 1 << 16;

    /** A document's sampling position in [0, 1): a stable hash of its id under the seed. */
    public static double position(long seed, String docId) {
        return StableHash.unit(StableHash.of(seed, "mixture", docId));
    }

    /** The histogram bin of a document's sampling position. */
    public static int bin(long seed, String docId) {
        return (int) (position(seed, docId) * BINS);
    }

    /**
     * The position threshold below which documents get their extra copy, so that the extra copies hold
     * {@code fraction} of the language's tokens. A plain Bernoulli draw per document reaches the share only in
     * expectation (off by several percent when documents are long and few); choosing the threshold from the
     * token-weighted histogram of positions reaches it to within about one document.
     *
     * @param binTokens tokens of the language's documents per position bin ({@link #bin})
     */
    public static double threshold(long[] binTokens, double fraction) {
        long total = 0;
        for (long t : binTokens) {
            total += t;
        }
        double wanted = fraction * total;
        double cumulative = 0;
        for (int b = 0; b < binTokens.length; b++) {
            if (binTokens[b] > 0 && cumulative + binTokens[b] >= wanted) {
                return (b + (wanted - cumulative) / binTokens[b]) / binTokens.length;
            }
            cumulative += binTokens[b];
        }
        return 1.0;
    }

    /** Parses {@code en:0.5,zh:0.5,code:0} (blank for the natural mixture). */
    public static Map<String, Double> parseShares(String text) {
        Map<String, Double> shares = new TreeMap<>();
        if (text == null || text.isBlank()) {
            return shares;
        }
        for (String part : text.split(",")) {
            String[] kv = part.strip().split(":");
            try {
                if (kv.length != 2) {
                    throw new NumberFormatException();
                }
                double share = Double.parseDouble(kv[1].strip());
                if (!(share >= 0) || Double.isInfinite(share)) {
                    throw new NumberFormatException();
                }
                shares.put(kv[0].strip(), share);
            } catch (NumberFormatException e) {
                throw new UsageException("mixture.shares entry '" + part.strip() + "' must be LANG:SHARE with a share"
                        + " >= 0, for example en:0.5,zh:0.5,code:0");
            }
        }
        return shares;
    }
}
