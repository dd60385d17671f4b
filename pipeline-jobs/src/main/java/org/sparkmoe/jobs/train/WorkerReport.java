package org.sparkmoe.jobs.train;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One worker's account of its round: the metrics of each local step, where its data stream stopped, and whether
 * its parameters were left out of the average.
 *
 * @param worker         the worker index (the Spark partition)
 * @param attempt        Spark's attempt number of the task that produced this report (0 unless retried)
 * @param device         the device the task was bound to, e.g. {@code cpu} or {@code cuda:0} (its Spark gpu address)
 * @param backend        the backend the engine really ran on ({@link LocalTrainer#backendName()})
 * @param steps          each local step's metrics, in order
 * @param stepSeconds    each local step's wall time
 * @param readerState    where its data stream stands after the round
 * @param excluded       true when its parameters were not finite and so were not averaged in
 * @param seconds        wall time of the local steps
 * @param phases         where the task's time went, seconds per phase in order ({@link PhaseTimes})
 * @param validation     its share of the round's validation ({@link ValidationPlan}); null when the round had none
 */
public record WorkerReport(int worker, int attempt, String device, String backend, List<StepMetrics> steps,
                           double[] stepSeconds,
                           String readerState,
                           boolean excluded, double seconds, Map<String, Double> phases,
                           ValidationScore validation) implements Serializable {

    public WorkerReport {
        steps = List.copyOf(steps);
        phases = new LinkedHashMap<>(phases);
    }

    /** The same report from another attempt, or with its phases complete. */
    WorkerReport with(int attempt, Map<String, Double> phases) {
        return new WorkerReport(worker, attempt, device, backend, steps, stepSeconds, readerState, excluded, seconds,
                phases, validation);
    }

    /** The same report with its share of the round's validation. */
    WorkerReport with(ValidationScore validation) {
        return new WorkerReport(worker, attempt, device, backend, steps, stepSeconds, readerState, excluded, seconds,
                phases, validation);
    }

    public long tokens() {
        return steps.stream().mapToLong(StepMetrics::tokens).sum();
    }

    public long skippedSteps() {
        return steps.stream().filter(s -> !s.finite()).count();
    }
}
