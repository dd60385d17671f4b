package org.sparkmoe.jobs.train;

import java.util.ArrayList;
import java.util.List;
import org.sparkmoe.model.comm.Collective;

/**
 * A worker's H local steps of one round on its own data stream, timed one by one: what every worker task runs,
 * whichever way the workers synchronise.
 *
 * @param steps       each step's metrics, in order
 * @param stepSeconds each step's wall time, its batch's reading included
 * @param dataSeconds of all steps' time, what reading the batches took
 */
record LocalSteps(List<StepMetrics> steps, double[] stepSeconds, double dataSeconds) {

    /**
     * Runs {@code plan.localSteps()} steps of {@code plan.batchSize()} sequences; with {@code gradientsAcross} set
     * (data parallel) each step's gradients are averaged over its ranks before the optimiser.
     */
    static LocalSteps run(LocalTrainer trainer, TrainingData.TokenStream stream, WorkerPlan plan,
                          Collective gradientsAcross) {
        List<StepMetrics> steps = new ArrayList<>(plan.localSteps());
        double[] stepSeconds = new double[plan.localSteps()];
        long dataNanos = 0;
        for (int step = 0; step < plan.localSteps(); step++) {
            long stepStarted = System.nanoTime();
            int[] batch_BT1 = stream.next(plan.batchSize());
            dataNanos += System.nanoTime() - stepStarted;
            steps.add(gradientsAcross == null
                    ? trainer.step(batch_BT1, plan.batchSize(), plan.seqLen() + 1)
                    : trainer.step(batch_BT1, plan.batchSize(), plan.seqLen() + 1, gradientsAcross));
            stepSeconds[step] = (System.nanoTime() - stepStarted) / 1e9;
        }
        return new LocalSteps(steps, stepSeconds, dataNanos / 1e9);
    }

    /** Charges the steps to {@code times}: reading batches as {@code data}, the rest as {@code steps}. */
    void charge(PhaseTimes times) {
        double total = java.util.Arrays.stream(stepSeconds).sum();
        times.add("data", dataSeconds);
        times.add("steps", total - dataSeconds);
        times.skip();
    }

    /** Whether every value is finite: a worker whose parameters are not is left out of the average. */
    static boolean allFinite(float[] v) {
        for (float x : v) {
            if (!Float.isFinite(x)) {
                return false;
            }
        }
        return true;
    }
}
