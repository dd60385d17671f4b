package org.sparkmoe.jobs.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One round's figures as logged and printed: means over the workers' finite local steps, the round's timing split
 * into local compute (the local steps of the slowest worker) and overhead (everything else: broadcast, scheduling,
 * building the worker's engine and loading its state, writing its state, tree aggregation or all-reduce, outer step).
 * {@code replayedRounds}: rounds the workers recomputed from the last checkpoint before this one because a worker's
 * round state was lost (always 0 with {@code sync=driver}). {@code phases}: where the round's time went, seconds per
 * phase: the driver's own, then the workers' as {@code worker.<phase>} (the slowest worker's figure for each).
 * {@code validation}: the held-out score of the round's parameters, summed over the workers' shares; null on a round
 * without validation.
 */
public record RoundSummary(int round, double loss, Map<String, Double> auxLosses, double learningRate, double gradNorm,
                           long tokens, long totalTokens, double roundSeconds, double computeSeconds, int contributors,
                           int excludedWorkers, long skippedSteps, int retriedTasks,
                           List<StepMetrics.LayerRouting> experts, int replayedRounds, Map<String, Double> phases,
                           ValidationScore validation) {

    public double overheadSeconds() {
        return Math.max(0, roundSeconds - computeSeconds);
    }

    public double tokensPerSecond() {
        return tokens / Math.max(roundSeconds, 1e-9);
    }

    /** Summarises a round from its workers' reports. */
    public static RoundSummary of(int round, List<WorkerReport> reports, int contributors, long totalTokens,
                                  double roundSeconds, int replayedRounds, PhaseTimes driverPhases) {
        Map<String, Double> phases = driverPhases.asMap();
        for (WorkerReport r : reports) {
            r.phases().forEach((phase, seconds) -> phases.merge("worker." + phase, seconds, Math::max));
        }
        List<StepMetrics> finite = new ArrayList<>();
        List<StepMetrics> lastSteps = new ArrayList<>();
        long tokens = 0;
        long skipped = 0;
        int excluded = 0;
        int retried = 0;
        double compute = 0;
        for (WorkerReport r : reports) {
            r.steps().stream().filter(StepMetrics::finite).forEach(finite::add);
            if (!r.steps().isEmpty()) {
                lastSteps.add(r.steps().getLast());
            }
            tokens += r.tokens();
            skipped += r.skippedSteps();
            excluded += r.excluded() ? 1 : 0;
            retried += r.attempt() > 0 ? 1 : 0;
            compute = Math.max(compute, java.util.Arrays.stream(r.stepSeconds()).sum());
        }
        double loss = finite.stream().mapToDouble(StepMetrics::loss).average().orElse(Double.NaN);
        double gradNorm = finite.stream().mapToDouble(StepMetrics::gradNorm).average().orElse(Double.NaN);
        double lr = lastSteps.stream().mapToDouble(StepMetrics::learningRate).average().orElse(Double.NaN);
        return new RoundSummary(round, loss, MetricsLog.meanAux(finite), lr, gradNorm, tokens, totalTokens, roundSeconds,
                compute, contributors, excluded, skipped, retried, sumRouting(lastSteps), replayedRounds, phases,
                ValidationScore.sum(reports));
    }

    /** Per layer, the workers' last-step expert loads summed and their router entropies averaged. */
    private static List<StepMetrics.LayerRouting> sumRouting(List<StepMetrics> lastSteps) {
        List<StepMetrics.LayerRouting> out = new ArrayList<>();
        if (lastSteps.isEmpty()) {
            return out;
        }
        int layers = lastSteps.getFirst().experts().size();
        for (int l = 0; l < layers; l++) {
            StepMetrics.LayerRouting first = lastSteps.getFirst().experts().get(l);
            long[] load = new long[first.tokensPerExpert().length];
            double entropy = 0;
            for (StepMetrics s : lastSteps) {
                StepMetrics.LayerRouting layer = s.experts().get(l);
                for (int e = 0; e < load.length; e++) {
                    load[e] += layer.tokensPerExpert()[e];
                }
                entropy += layer.routerEntropy();
            }
            out.add(new StepMetrics.LayerRouting(first.layer(), load, entropy / lastSteps.size()));
        }
        return out;
    }
}
