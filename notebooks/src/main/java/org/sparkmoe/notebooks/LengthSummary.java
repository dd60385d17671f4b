package org.sparkmoe.notebooks;

/**
 * Quantiles of document lengths in characters (nearest-rank on the sorted lengths).
 *
 * @param documents how many documents
 * @param min       shortest
 * @param p50       median
 * @param p90       90th percentile
 * @param p99       99th percentile
 * @param max       longest
 * @param mean      arithmetic mean
 */
public record LengthSummary(long documents, double min, double p50, double p90, double p99, double max, double mean) {

    /** From lengths sorted ascending. */
    public static LengthSummary of(double[] sorted) {
        if (sorted.length == 0) {
            return new LengthSummary(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        double total = 0;
        for (double v : sorted) {
            total += v;
        }
        return new LengthSummary(sorted.length, sorted[0], rank(sorted, 0.50), rank(sorted, 0.90), rank(sorted, 0.99),
                sorted[sorted.length - 1], total / sorted.length);
    }

    private static double rank(double[] sorted, double q) {
        int index = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
}
