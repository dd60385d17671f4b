package org.sparkmoe.jobs.charts;

import java.util.Arrays;

/**
 * A curve: {@code x[i]} against {@code y[i]}, for example loss against step. Points whose y is not finite are
 * kept out by {@link #finite()}, because a skipped step reports NaN and a chart cannot draw it.
 */
public record Series(double[] x, double[] y) {

    public Series {
        if (x.length != y.length) {
            throw new IllegalArgumentException("a series needs as many x as y values, got " + x.length + " and " + y.length);
        }
    }

    public int size() {
        return x.length;
    }

    public boolean isEmpty() {
        return x.length == 0;
    }

    /** The points with a finite y. */
    public Series finite() {
        int n = 0;
        for (double v : y) {
            if (Double.isFinite(v)) {
                n++;
            }
        }
        double[] fx = new double[n];
        double[] fy = new double[n];
        int j = 0;
        for (int i = 0; i < y.length; i++) {
            if (Double.isFinite(y[i])) {
                fx[j] = x[i];
                fy[j++] = y[i];
            }
        }
        return new Series(fx, fy);
    }

    /** The last y, or NaN for an empty series. */
    public double last() {
        return y.length == 0 ? Double.NaN : y[y.length - 1];
    }

    @Override
    public String toString() {
        return "Series[" + x.length + " points, y=" + Arrays.toString(Arrays.copyOf(y, Math.min(5, y.length)))
                + (y.length > 5 ? "..." : "") + "]";
    }
}
