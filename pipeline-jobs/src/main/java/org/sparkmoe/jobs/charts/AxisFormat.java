package org.sparkmoe.jobs.charts;

import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.Locale;

/**
 * Tick label patterns chosen from the data range: as many decimals as the tick spacing needs, so neighbouring ticks
 * never print alike (a loss axis from 4.9502 to 4.9598 reads 4.951, 4.952, ..., not "4.95" several times; shares of
 * routed experts read 0.00, 0.05, ..., 0.125), and thousands grouped (tokens trained: 100,000). XChart places the
 * ticks at round multiples itself; this only says how to print them.
 */
public final class AxisFormat {

    /** Ticks a chart axis shows at least and at most, roughly, on a chart {@link Charts#WIDTH} wide. */
    private static final int FEWEST_TICKS = 5;
    private static final int MOST_TICKS = 10;

    private AxisFormat() {}

    /** A {@link DecimalFormat} pattern for ticks of an axis spanning {@code [min, max]} (either order, ends may match). */
    public static String pattern(double min, double max) {
        double lo = Math.min(min, max);
        double hi = Math.max(min, max);
        if (!Double.isFinite(lo) || !Double.isFinite(hi)) {
            return "#,##0.##";
        }
        double span = hi - lo;
        if (span == 0) {
            // A flat series: XChart pads the axis around the value by a tenth of it, or by one unit at zero.
            span = Math.max(Math.max(Math.abs(lo), Math.abs(hi)), 1) * 0.2;
        }
        // Every tick shows the decimals of a coarse spacing; finer spacings XChart may choose add optional digits.
        int always = decimals(niceStep(span / FEWEST_TICKS));
        int most = Math.max(always, decimals(niceStep(span / MOST_TICKS)));
        return always + most == 0 ? "#,##0" : "#,##0." + "0".repeat(always) + "#".repeat(most - always);
    }

    /** The pattern for {@code values}, ignoring the ones that are not finite. */
    public static String pattern(double[]... values) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double[] series : values) {
            for (double v : series) {
                if (Double.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        return lo > hi ? "#,##0.##" : pattern(lo, hi);
    }

    /** {@code pattern} as a formatter, for the places XChart takes a function (the heat maps' colour bar). */
    public static DecimalFormat format(String pattern) {
        return new DecimalFormat(pattern, DecimalFormatSymbols.getInstance(Locale.ROOT));
    }

    /** The least of 1, 2, 2.5 and 5 times a power of ten that is at least {@code raw}: the spacings charts use. */
    static double niceStep(double raw) {
        double power = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 2.5, 5}) {
            if (m * power >= raw * (1 - 1e-9)) {
                return m * power;
            }
        }
        return 10 * power;
    }

    /** Decimals that print every multiple of {@code step} exactly (0.025: 3), at most 10. */
    static int decimals(double step) {
        for (int d = 0; d < 10; d++) {
            double scaled = step * Math.pow(10, d);
            if (Math.abs(scaled - Math.rint(scaled)) < 1e-6 * Math.max(1, scaled)) {
                return d;
            }
        }
        return 10;
    }
}
