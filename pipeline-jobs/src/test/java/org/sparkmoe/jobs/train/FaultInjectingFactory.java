package org.sparkmoe.jobs.train;

import java.lang.foreign.MemorySegment;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.sparkmoe.model.checkpoint.VectorRanges;
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
    public void exportModel(long count, VectorRanges.Source params, org.sparkmoe.model.checkpoint.CheckpointFiles files)
            throws java.io.IOException {
        delegate.exportModel(count, params, files);
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
        /** The Spark task this trainer last stepped in (a barrier rank keeps its trainer from round to round). */
        private long task = -1;
        private int stepsThisTask;

        Faulty(LocalTrainer inner) {
            this.inner = inner;
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

        @Override
        public org.sparkmoe.model.train.EvalMetrics evaluate(int[] tokens, int batch, int seqLenPlusOne) {
            return inner.evaluate(tokens, batch, seqLenPlusOne);
        }

        private void beforeStep() {
            TaskContext context = TaskContext.get();
            if (context.taskAttemptId() != task) {
                // The first step of this task: arm the fault for it.
                task = context.taskAttemptId();
                stepsThisTask = 0;
                if (fault == Fault.FAIL_AFTER_TASK && hits(context)) {
                    context.addTaskCompletionListener((TaskContext done) -> {
                        throw new IllegalStateException("injected failure: partition " + partition + ", attempt 0,"
                                + " after its state was written; Spark must retry this task");
                    });
                }
            }
            if (fault == Fault.EXIT_EXECUTOR && stepsThisTask == 1 && hits(context)) {
                if (SparkEnv.get().executorId().equals("driver")) {
                    throw new IllegalStateException("EXIT_EXECUTOR needs executors in their own JVMs (local-cluster)");
                }
                Runtime.getRuntime().halt(77);
            }
            if (fault == Fault.FAIL_DURING_STEPS && stepsThisTask == 1 && hits(context)) {
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
        public long parameterCount() {
            return inner.parameterCount();
        }

        @Override
        public void readParameters(long first, long count, MemorySegment dst) {
            inner.readParameters(first, count, dst);
        }

        @Override
        public void writeParameters(long first, long count, MemorySegment src) {
            inner.writeParameters(first, count, src);
        }

        @Override
        public void readMoments(long first, long count, MemorySegment dst) {
            inner.readMoments(first, count, dst);
        }

        @Override
        public void writeMoments(long first, long count, MemorySegment src) {
            inner.writeMoments(first, count, src);
        }

        @Override
        public long stepCount() {
            return inner.stepCount();
        }

        @Override
        public void setStepCount(long steps) {
            inner.setStepCount(steps);
        }

        @Override
        public void reset() {
            inner.reset();
        }

        @Override
        public void scaleParameters(float factor) {
            inner.scaleParameters(factor);
        }

        @Override
        public boolean parametersFinite() {
            return inner.parametersFinite();
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
