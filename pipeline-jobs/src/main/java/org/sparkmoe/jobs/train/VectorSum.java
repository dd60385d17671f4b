package org.sparkmoe.jobs.train;

import java.io.Serializable;

/**
 * A sum of fp32 vectors kept in fp64, so that the sum of a few addends is exact (or rounds far below fp32 precision)
 * and does not depend on the order Spark merges partial results. A single addend stays as it came, in fp32: a
 * worker's task result then costs 4 bytes per value to hold and ship instead of 8, and it is widened only when a
 * second addend arrives (on an intermediate tree level or on the driver).
 */
final class VectorSum implements Serializable {

    private float[] single;
    private double[] sum;

    private VectorSum(float[] single) {
        this.single = single;
    }

    /** The sum of one vector; keeps a reference to it (the caller must not change it afterwards). */
    static VectorSum of(float[] addend) {
        return new VectorSum(addend);
    }

    /** {@code a + b} where either may be null (no addend); reuses the left side's storage once it is fp64. */
    static VectorSum plus(VectorSum a, VectorSum b) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        if (a.length() != b.length()) {
            throw new IllegalStateException("workers returned vectors of different lengths: " + a.length() + " and "
                    + b.length());
        }
        if (a.sum == null) {
            a.sum = widen(a.single);
            a.single = null;
        }
        if (b.sum != null) {
            for (int i = 0; i < a.sum.length; i++) {
                a.sum[i] += b.sum[i];
            }
        } else {
            for (int i = 0; i < a.sum.length; i++) {
                a.sum[i] += b.single[i];
            }
        }
        return a;
    }

    int length() {
        return single != null ? single.length : sum.length;
    }

    /** The sum divided by {@code count}, rounded to fp32 (for one addend and count 1: the addend itself). */
    float[] mean(int count) {
        float[] out = new float[length()];
        for (int i = 0; i < out.length; i++) {
            double total = single != null ? single[i] : sum[i];
            out[i] = (float) (total / count);
        }
        return out;
    }

    private static double[] widen(float[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = v[i];
        }
        return out;
    }
}
