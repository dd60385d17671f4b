package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.sparkmoe.jobs.train.HeldRounds.Held;
import org.sparkmoe.model.comm.Collective;

/**
 * The body of one rank's task in a barrier round. The W tasks run together (Spark starts a barrier stage only when all
 * of them fit) and synchronise among themselves: no vector goes to the driver.
 *
 * <pre>
 * join the collective (TCP ring on the CPU, NCCL on CUDA); the join's one Spark all-gather also carries which round
 * each rank's executor holds state for ({@link HeldRounds})
 *   every rank holds round r+1 → the round is done already (the stage was retried after it finished): the same report
 *   every rank holds round r   → start from it
 *   otherwise                  → every rank restarts from the last checkpoint (or the initial parameters) and replays
 *                                the rounds since: deterministic, so the replay recomputes exactly what was lost
 * H local steps (data-parallel: each step's gradients all-reduced to their mean before the optimiser)
 * gather over the collective which ranks' parameters are finite (the others contribute zeros)
 * barrier: all-reduce the parameters, mean = sum / finite ranks (fp32), the outer step (average or DiLoCo), the same
 *          code and the same inputs on every rank, so every rank holds the same next parameters
 * when validation is due after the round ({@link ValidationPlan}): each rank scores its share of the validation
 *          sequences with those parameters
 * keep parameters, outer and inner optimiser state for round r+1; write the checkpoint's vectors when one is due
 * (rank 0: parameters, outer state; every rank: its optimiser state) and, after the last round, rank 0 final/
 * </pre>
 */
final class BarrierRound {

    private static final Logger LOG = LogManager.getLogger(BarrierRound.class);

    private BarrierRound() {}

    static BarrierOutcome run(BarrierPlan plan, RoundOrder order, int rank) throws IOException {
        ReentrantLock inUse = HeldRounds.lock(plan.incarnation(), rank);
        inUse.lock();
        try {
            return runHolding(plan, order, rank);
        } finally {
            inUse.unlock();
        }
    }

    private static BarrierOutcome runHolding(BarrierPlan plan, RoundOrder order, int rank) throws IOException {
        PhaseTimes times = new PhaseTimes();
        BarrierTaskContext task = BarrierTaskContext.get();
        WorkerPlan worker = plan.worker();
        int round = order.round();
        Held held = HeldRounds.get(plan.incarnation(), rank);
        ComputeDevice device = worker.device().bind(task);
        if (held != null && held.round >= 0 && !held.device.equals(device)) {
            moveTo(held, device, rank);
        }
        LocalTrainer trainer = held != null ? held.trainer : IdleEngines.take(worker.engine(), device);
        times.lap("engine");
        BarrierRendezvous rendezvous = new BarrierRendezvous(task, Integer.toString(held == null ? -1 : held.round));
        int replayed = 0;
        WorkerReport report;
        try (Collective workers = trainer.joinCollective(rank, worker.workers(), rendezvous)) {
            String[] heldRounds = rendezvous.notes();
            times.lap("join");
            if (allEqual(heldRounds, round + 1)) {
                LOG.info("rank {}: round {} finished before this stage was retried; its result stands", rank, round);
                report = held.lastReport.with(order.attempt(), Map.of());
            } else {
                String readerState = order.readerStates()[rank];
                if (!allEqual(heldRounds, round)) {
                    // What this rank holds (if anything) is of no use now: the checkpoint overwrites its trainer.
                    HeldRounds.drop(plan.incarnation(), rank);
                    held = restart(plan, order, rank, trainer, device, heldRounds);
                    readerState = order.restartReaderStates()[rank];
                    for (int q = order.restartRound(); q < round; q++, replayed++) {
                        readerState = runRound(plan, order, q, rank, held, readerState, workers, device, null,
                                false).readerState();
                    }
                    times.lap("restart");
                    if (!java.util.Objects.equals(readerState, order.readerStates()[rank])) {
                        throw new IllegalStateException("rank " + rank + " replayed rounds " + order.restartRound()
                                + ".." + (round - 1) + " to reader state " + readerState + " but the run recorded "
                                + order.readerStates()[rank] + ": the replay is not deterministic, so it cannot stand"
                                + " in for the lost rounds");
                    }
                }
                report = runRound(plan, order, round, rank, held, readerState, workers, device, times,
                        plan.validation().dueAfter(round, order.last()));
            }
        } catch (RuntimeException | IOException e) {
            HeldRounds.drop(plan.incarnation(), rank);
            trainer.close();
            throw e;
        }
        times.lap("leave");
        writeOutputs(plan, order, rank, held);
        times.lap("checkpoint");
        report = report.with(report.attempt(), times.asMap());
        if (order.last()) {
            // The run is over: the trainer goes back to the executor's idle engines for whatever runs next.
            HeldRounds.drop(plan.incarnation(), rank);
            held.release();
        }
        return outcome(report, replayed);
    }

    /**
     * The task was handed another device than the one the rank's state is on (an executor with several GPUs): the
     * state moves to a trainer on the task's device, range by range through the host.
     */
    private static void moveTo(Held held, ComputeDevice device, int rank) {
        LOG.info("rank {}: its state moves from {} to {}, the device this task was given", rank, held.device, device);
        LocalTrainer moved = IdleEngines.take(held.factory, device);
        TrainerState.copy(held.trainer, moved);
        held.release();
        held.trainer = moved;
        held.device = device;
    }

    /** Every rank's state from the newest checkpoint (or the initial parameters), held for {@code restartRound}. */
    private static Held restart(BarrierPlan plan, RoundOrder order, int rank, LocalTrainer trainer,
                                ComputeDevice device, String[] heldRounds) throws IOException {
        String from = order.restartCheckpoint() == null ? "the initial parameters" : order.restartCheckpoint();
        if (order.round() == order.restartRound() && Arrays.stream(heldRounds).allMatch("-1"::equals)) {
            LOG.info("rank {}: round {} starts from {}", rank, order.round(), from);
        } else {
            LOG.warn("rank {}: round {} cannot start from the state the ranks hold (their rounds: {}); every rank"
                    + " restarts from {} and replays {} round(s)", rank, order.round(), String.join(",", heldRounds),
                    from, order.round() - order.restartRound());
        }
        long parameterCount = trainer.parameterCount();
        boolean outerStep = !plan.dataParallel() && !plan.averaging();
        OuterOptimizer outer = plan.newOuterOptimizer(outerStep ? Math.toIntExact(parameterCount) : 0);
        float[] global_P = null;
        if (order.restartCheckpoint() == null) {
            trainer.reset();
            if (outerStep) {
                global_P = new float[(int) parameterCount];
                trainer.readParameters(global_P);
            }
        } else {
            FileSystem fs = plan.worker().run().fileSystem();
            Path checkpoint = new Path(order.restartCheckpoint());
            Path parameters = new Path(checkpoint, CheckpointStore.PARAMETERS);
            if (outerStep) {
                global_P = VectorFiles.read(fs, parameters);
                outer.restore(VectorFiles.read(fs, new Path(checkpoint, CheckpointStore.OUTER_OPTIMIZER)));
            }
            VectorFiles.read(fs, parameters, parameterCount, TrainerState.parametersInto(trainer));
            TrainerState.readOptimizerState(fs, RunDirectory.workerStateFile(checkpoint, rank), trainer);
        }
        Held held = new Held(plan.worker().engine(), trainer, device, outer, global_P, order.restartRound());
        HeldRounds.put(plan.incarnation(), rank, held);
        return held;
    }

    /**
     * Round {@code round} from {@code held}, which it leaves holding round {@code round + 1}; every rank of the
     * collective runs it together. {@code times} (null: not timed, a replayed round) gets the round's phases;
     * {@code validate}: the rank then scores its share of the validation sequences with the round's parameters.
     */
    private static WorkerReport runRound(BarrierPlan plan, RoundOrder order, int round, int rank, Held held,
                                         String readerState, Collective workers, ComputeDevice device,
                                         PhaseTimes times, boolean validate) throws IOException {
        WorkerPlan worker = plan.worker();
        LocalTrainer trainer = held.trainer;
        PhaseTimes phases = times == null ? new PhaseTimes() : times;
        long started = System.nanoTime();
        held.round = -1;
        LocalSteps local;
        String readerAfter;
        try (TrainingData.TokenStream stream = worker.data().open(rank, worker.workers(), worker.seqLen(), readerState)) {
            phases.lap("open");
            local = LocalSteps.run(trainer, stream, worker, plan.dataParallel() ? workers : null);
            local.charge(phases);
            readerAfter = stream.state();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        boolean finite = trainer.parametersFinite();
        int contributors = (int) Arrays.stream(workers.gatherValues(new long[] {finite ? 1 : 0})).sum();
        phases.lap("check");
        if (!finite) {
            LOG.warn("rank {} round {}: parameters are not finite after its local steps; left out of the average", rank,
                    round);
        }
        WorkerReport report = new WorkerReport(rank, order.attempt(), device.toString(), trainer.backendName(),
                local.steps(), local.stepSeconds(), readerAfter, !finite, seconds, Map.of(), null);
        if (contributors == 0) {
            // Nothing to average and no copy of the round's start: the state stays invalid; the driver stops the run.
            return report;
        }
        if (!plan.dataParallel()) {
            if (!finite) {
                TrainerState.zeroParameters(trainer);
            }
            trainer.sumParameters(workers);
            trainer.scaleParameters(1f / contributors);
            phases.lap("all-reduce");
            if (held.global_P != null) {
                float[] mean_P = new float[held.global_P.length];
                trainer.readParameters(mean_P);
                held.outer.apply(held.global_P, mean_P);
                trainer.writeParameters(held.global_P);
                phases.lap("outer");
            }
        }
        if (validate) {
            // The parameters are the round's result now, the same on every rank.
            report = report.with(plan.validation().score(trainer, rank, worker.workers()));
            phases.lap("validate");
        }
        held.lastReport = report;
        held.round = round + 1;
        return report;
    }

    /** The checkpoint's vectors this rank holds (when one is due) and, after the last round, rank 0's final/. */
    private static void writeOutputs(BarrierPlan plan, RoundOrder order, int rank, Held held) throws IOException {
        if (held.round != order.round() + 1) {
            return;
        }
        RunDirectory run = plan.worker().run();
        FileSystem fs = run.fileSystem();
        LocalTrainer trainer = held.trainer;
        if (order.checkpointStaging() != null) {
            Path tmp = new Path(order.checkpointStaging());
            TrainerState.writeOptimizerState(fs, RunDirectory.workerStateFile(tmp, rank), trainer);
            if (rank == 0) {
                VectorFiles.write(fs, new Path(tmp, CheckpointStore.PARAMETERS), trainer.parameterCount(),
                        TrainerState.parameters(trainer));
                VectorFiles.write(fs, new Path(tmp, CheckpointStore.OUTER_OPTIMIZER), held.outer.state());
            }
        }
        if (order.last() && rank == 0) {
            FinalModel.write(run, plan.worker().engine(), trainer.parameterCount(), TrainerState.parameters(trainer));
        }
    }

    private static boolean allEqual(String[] rounds, int round) {
        String wanted = Integer.toString(round);
        return Arrays.stream(rounds).allMatch(wanted::equals);
    }

    private static BarrierOutcome outcome(WorkerReport report, int replayed) {
        String location = "executor_" + SparkEnv.get().blockManager().blockManagerId().host() + "_"
                + SparkEnv.get().executorId();
        return new BarrierOutcome(report, location, replayed);
    }
}
