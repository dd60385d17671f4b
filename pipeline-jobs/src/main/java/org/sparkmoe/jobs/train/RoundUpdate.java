package org.sparkmoe.jobs.train;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What a round's tree aggregation carries up to the driver: the sum of the contributing workers' parameters (and
 * optimiser states, when those are averaged) plus every worker's report.
 *
 * <p>Sums are {@link VectorSum}s: fp64 once two workers are added, so the result does not depend on the order in
 * which Spark merges partial results — that is what keeps a resumed run bit-identical to an uninterrupted one. A
 * single worker's vector travels in fp32 (4 bytes per parameter from each task); a merged sum costs 8 bytes per
 * parameter where it is held (an intermediate tree level or the driver); {@code aggregation-depth} spreads the merge.
 */
public final class RoundUpdate implements Serializable {

    private VectorSum paramSum_P;
    private VectorSum optimizerStateSum_S;
    private int contributors;
    private final List<WorkerReport> reports = new ArrayList<>();

    /** The aggregation's zero: no vectors allocated, so it costs nothing to ship to every task. */
    public static RoundUpdate empty() {
        return new RoundUpdate();
    }

    /**
     * One worker's result; keeps references to the vectors (no copy on the worker). {@code optimizerState_S} is null
     * when optimiser states are not averaged.
     */
    public static RoundUpdate ofWorker(float[] params_P, float[] optimizerState_S, WorkerReport report) {
        RoundUpdate u = new RoundUpdate();
        u.reports.add(report);
        if (!report.excluded()) {
            u.contributors = 1;
            u.paramSum_P = VectorSum.of(params_P);
            u.optimizerStateSum_S = optimizerState_S == null ? null : VectorSum.of(optimizerState_S);
        }
        return u;
    }

    /** Adds {@code other} into this update and returns this (Spark's aggregate contract allows reusing the left side). */
    public RoundUpdate merge(RoundUpdate other) {
        reports.addAll(other.reports);
        contributors += other.contributors;
        paramSum_P = VectorSum.plus(paramSum_P, other.paramSum_P);
        optimizerStateSum_S = VectorSum.plus(optimizerStateSum_S, other.optimizerStateSum_S);
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
        if (contributors == 0) {
            throw new IllegalStateException("no worker contributed to the round");
        }
        return paramSum_P.mean(contributors);
    }

    /** The mean optimiser state, or null when states were not averaged or no worker contributed. */
    public float[] meanOptimizerState() {
        return optimizerStateSum_S == null || contributors == 0 ? null : optimizerStateSum_S.mean(contributors);
    }
}
