package org.sparkmoe.jobs.train;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * Test-only failure injection around a real {@link LocalTrainerFactory}: the trainers it builds behave exactly like
 * the wrapped ones, except in the first attempt of one worker's task (in one round, or in every round) where they
 * inject a {@link Fault}. Production code has no hook for this: the fault lives in the trainer the test ships.
 *
 * @param delegate  the factory whose trainers do the work
 * @param fault     what goes wrong
 * @param partition the worker (Spark partition) whose first attempt is hit
 * @param round     the round (0-based) it happens in, read from the job description the driver sets
 *                  ("round r/R"); -1 for every round
 */
record FaultInjectingFactory(LocalTrainerFactory delegate, Fault fault, int partition, int round)
        implements LocalTrainerFactory {

    enum Fault {
        /** The task fails after its body returned (state file written, result computed): a completion listener throws. */
        FAIL_AFTER_TASK,
        /** The executor JVM exits in the middle of the task's local steps (after its first step), as a lost executor does. */
        EXIT_EXECUTOR,
        /** The task throws in the middle of its local steps (after its first step), its executor living on. */
        FAIL_DURING_STEPS
    }

    private static final Pattern ROUND = Pattern.compile("round (\\d+)/\\d+");

    @Override
    public LocalTrainer create(ComputeDevice device) {
        return new Faulty(delegate.create(device));
    }

    @Override
    public String tokenizerHash() {
        return delegate.tokenizerHash();
    }

    @Override
    public int maxSeqLenPlusOne() {
        return delegate.maxSeqLenPlusOne();
    }

    @Override
    public int vocabSize() {
        return delegate.vocabSize();
    }

    @Override
    public String describeJson() {
        return delegate.describeJson();
    }

    @Override
    public float[] initialParameters() {
        return delegate.initialParameters();
    }

    @Override
    public void exportModel(float[] params_P, org.sparkmoe.model.checkpoint.CheckpointFiles files)
            throws java.io.IOException {
        delegate.exportModel(params_P, files);
    }

    /** Whether the running task is the one to hit: the chosen partition's first attempt in the chosen round. */
    private boolean hits(TaskContext task) {
        // A barrier round is retried as a new job (task attempt numbers start at 0 again): the driver marks it.
        String roundAttempt = task == null ? null : task.getLocalProperty(BarrierRounds.ROUND_ATTEMPT_PROPERTY);
        if (task == null || task.partitionId() != partition || task.attemptNumber() != 0
                || (roundAttempt != null && !roundAttempt.equals("0"))) {
            return false;
        }
        if (round < 0) {
            return true;
        }
        Matcher m = ROUND.matcher(String.valueOf(task.getLocalProperty("spark.job.description")));
        return m.find() && Integer.parseInt(m.group(1)) == round + 1;
    }

    private final class Faulty implements LocalTrainer {

        private final LocalTrainer inner;
        private int stepsThisTask;

        Faulty(LocalTrainer inner) {
            this.inner = inner;
        }

        @Override
        public void writeParameters(float[] from) {
            // The first call of every task: arm the fault for this task.
            stepsThisTask = 0;
            TaskContext task = TaskContext.get();
            if (fault == Fault.FAIL_AFTER_TASK && hits(task)) {
                task.addTaskCompletionListener((TaskContext done) -> {
                    throw new IllegalStateException("injected failure: partition " + partition + ", attempt 0, after"
                            + " its state was written; Spark must retry this task");
                });
            }
            inner.writeParameters(from);
        }

        @Override
        public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne) {
            beforeStep();
            return inner.step(tokens, batch, seqLenPlusOne);
        }

        @Override
        public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne, Collective workers) {
            beforeStep();
            return inner.step(tokens, batch, seqLenPlusOne, workers);
        }

        private void beforeStep() {
            if (fault == Fault.EXIT_EXECUTOR && stepsThisTask == 1 && hits(TaskContext.get())) {
                if (SparkEnv.get().executorId().equals("driver")) {
                    throw new IllegalStateException("EXIT_EXECUTOR needs executors in their own JVMs (local-cluster)");
                }
                Runtime.getRuntime().halt(77);
            }
            if (fault == Fault.FAIL_DURING_STEPS && stepsThisTask == 1 && hits(TaskContext.get())) {
                throw new IllegalStateException("injected failure: partition " + partition + ", attempt 0, after its"
                        + " first local step");
            }
            stepsThisTask++;
        }

        @Override
        public Collective joinCollective(int rank, int size, Rendezvous rendezvous) {
            return inner.joinCollective(rank, size, rendezvous);
        }

        @Override
        public void sumParameters(Collective workers) {
            inner.sumParameters(workers);
        }

        @Override
        public int parameterCount() {
            return inner.parameterCount();
        }

        @Override
        public int optimizerStateSize() {
            return inner.optimizerStateSize();
        }

        @Override
        public void readParameters(float[] into) {
            inner.readParameters(into);
        }

        @Override
        public void readOptimizerState(float[] into) {
            inner.readOptimizerState(into);
        }

        @Override
        public void writeOptimizerState(float[] from) {
            inner.writeOptimizerState(from);
        }

        @Override
        public String backendName() {
            return inner.backendName();
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
