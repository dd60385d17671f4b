package org.sparkmoe.jobs.train;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What a round's tree aggregation carries up to the driver: the sum of the contributing workers' parameters (and
 * optimiser states, when those are averaged) plus every worker's report.
 *
 * <p>Sums are kept in fp64. Each addend is an fp32 value, so the sum of a few of them is exact (or rounds far below
 * fp32 precision) and does not depend on the order in which Spark merges partial results: that is what keeps a
 * resumed run bit-identical to an uninterrupted one. Costs 8 bytes per parameter on the driver and on each tree
 * level; {@code aggregation-depth} spreads the merge over executors.
 */
public final class RoundUpdate implements Serializable {

    private double[] paramSum_P;
    private double[] optimizerStateSum_S;
    private int contributors;
    private final List<WorkerReport> reports = new ArrayList<>();

    /** The aggregation's zero: no vectors allocated, so it costs nothing to ship to every task. */
    public static RoundUpdate empty() {
        return new RoundUpdate();
    }

    /** One worker's result. {@code optimizerState_S} is null when optimiser states are not averaged. */
    public static RoundUpdate ofWorker(float[] params_P, float[] optimizerState_S, WorkerReport report) {
        RoundUpdate u = new RoundUpdate();
        u.reports.add(report);
        if (!report.excluded()) {
            u.contributors = 1;
            u.paramSum_P = widen(params_P);
            u.optimizerStateSum_S = optimizerState_S == null ? null : widen(optimizerState_S);
        }
        return u;
    }

    /** Adds {@code other} into this update and returns this (Spark's aggregate contract allows reusing the left side). */
    public RoundUpdate merge(RoundUpdate other) {
        reports.addAll(other.reports);
        contributors += other.contributors;
        paramSum_P = addInto(paramSum_P, other.paramSum_P);
        optimizerStateSum_S = addInto(optimizerStateSum_S, other.optimizerStateSum_S);
        return this;
    }

    /** Workers whose parameters are in the sum. */
    public int contributors() {
        return contributors;
    }

    /** Every worker's report, ordered by worker index. */
    public List<WorkerReport> reports() {
        List<WorkerReport> sorted = new ArrayList<>(reports);
        sorted.sort(Comparator.comparingInt(WorkerReport::worker));
        return sorted;
    }

    /** The mean parameters of the contributing workers; fails when no worker contributed. */
    public float[] meanParameters() {
        return mean(paramSum_P);
    }

    /** The mean optimiser state, or null when states were not averaged or no worker contributed. */
    public float[] meanOptimizerState() {
        return optimizerStateSum_S == null ? null : mean(optimizerStateSum_S);
    }

    private float[] mean(double[] sum) {
        if (contributors == 0) {
            throw new IllegalStateException("no worker contributed to the round");
        }
        float[] out = new float[sum.length];
        for (int i = 0; i < sum.length; i++) {
            out[i] = (float) (sum[i] / contributors);
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

    private static double[] addInto(double[] acc, double[] add) {
        if (add == null) {
            return acc;
        }
        if (acc == null) {
            return add;
        }
        if (acc.length != add.length) {
            throw new IllegalStateException("workers returned vectors of different lengths: " + acc.length + " and " + add.length);
        }
        for (int i = 0; i < acc.length; i++) {
            acc[i] += add[i];
        }
        return acc;
    }
}
