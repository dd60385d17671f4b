package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.util.Arrays;
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
        BarrierTaskContext task = BarrierTaskContext.get();
        WorkerPlan worker = plan.worker();
        int round = order.round();
        Held held = HeldRounds.get(plan.incarnation(), rank);
        ComputeDevice device = worker.device().bind(task);
        LocalTrainer trainer = IdleEngines.take(worker.engine(), device);
        BarrierRendezvous rendezvous = new BarrierRendezvous(task, Integer.toString(held == null ? -1 : held.round));
        int replayed = 0;
        WorkerReport report;
        try (Collective workers = trainer.joinCollective(rank, worker.workers(), rendezvous)) {
            String[] heldRounds = rendezvous.notes();
            if (allEqual(heldRounds, round + 1)) {
                LOG.info("rank {}: round {} finished before this stage was retried; its result stands", rank, round);
                report = withAttempt(held.lastReport, order.attempt());
            } else {
                String readerState = order.readerStates()[rank];
                if (!allEqual(heldRounds, round)) {
                    // What this rank holds (if anything) is of no use now: free it before loading the checkpoint.
                    held = null;
                    HeldRounds.drop(plan.incarnation(), rank);
                    held = restart(plan, order, rank, trainer, heldRounds);
                    readerState = order.restartReaderStates()[rank];
                    for (int q = order.restartRound(); q < round; q++, replayed++) {
                        readerState = runRound(plan, order, q, rank, held, readerState, trainer, workers, device)
                                .readerState();
                    }
                    if (!java.util.Objects.equals(readerState, order.readerStates()[rank])) {
                        throw new IllegalStateException("rank " + rank + " replayed rounds " + order.restartRound()
                                + ".." + (round - 1) + " to reader state " + readerState + " but the run recorded "
                                + order.readerStates()[rank] + ": the replay is not deterministic, so it cannot stand"
                                + " in for the lost rounds");
                    }
                }
                report = runRound(plan, order, round, rank, held, readerState, trainer, workers, device);
            }
        } catch (RuntimeException | IOException e) {
            trainer.close();
            throw e;
        }
        IdleEngines.giveBack(worker.engine(), device, trainer);
        writeOutputs(plan, order, rank, held);
        return outcome(report, replayed);
    }

    /** Every rank's state from the newest checkpoint (or the initial parameters), held for {@code restartRound}. */
    private static Held restart(BarrierPlan plan, RoundOrder order, int rank, LocalTrainer trainer, String[] heldRounds)
            throws IOException {
        String from = order.restartCheckpoint() == null ? "the initial parameters" : order.restartCheckpoint();
        if (order.round() == order.restartRound() && Arrays.stream(heldRounds).allMatch("-1"::equals)) {
            LOG.info("rank {}: round {} starts from {}", rank, order.round(), from);
        } else {
            LOG.warn("rank {}: round {} cannot start from the state the ranks hold (their rounds: {}); every rank"
                    + " restarts from {} and replays {} round(s)", rank, order.round(), String.join(",", heldRounds),
                    from, order.round() - order.restartRound());
        }
        int parameterCount = trainer.parameterCount();
        OuterOptimizer outer = plan.newOuterOptimizer(parameterCount);
        float[] params_P;
        float[] optimizerState_S;
        if (order.restartCheckpoint() == null) {
            params_P = plan.worker().engine().initialParameters();
            optimizerState_S = new float[trainer.optimizerStateSize()];
        } else {
            FileSystem fs = plan.worker().run().fileSystem();
            Path checkpoint = new Path(order.restartCheckpoint());
            params_P = VectorFiles.read(fs, new Path(checkpoint, CheckpointStore.PARAMETERS));
            outer.restore(VectorFiles.read(fs, new Path(checkpoint, CheckpointStore.OUTER_OPTIMIZER)));
            optimizerState_S = VectorFiles.read(fs, RunDirectory.workerStateFile(checkpoint, rank));
        }
        if (params_P.length != parameterCount || optimizerState_S.length != trainer.optimizerStateSize()) {
            throw new IllegalStateException("checkpoint " + order.restartCheckpoint() + " holds " + params_P.length
                    + " parameters and " + optimizerState_S.length + " optimiser values for rank " + rank
                    + ", but the engine has " + parameterCount + " and " + trainer.optimizerStateSize());
        }
        Held held = new Held(params_P, outer, optimizerState_S, order.restartRound());
        HeldRounds.put(plan.incarnation(), rank, held);
        return held;
    }

    /**
     * Round {@code round} from {@code held}, which it leaves holding round {@code round + 1}; every rank of the
     * collective runs it together.
     */
    private static WorkerReport runRound(BarrierPlan plan, RoundOrder order, int round, int rank, Held held,
                                         String readerState, LocalTrainer trainer, Collective workers,
                                         ComputeDevice device) throws IOException {
        WorkerPlan worker = plan.worker();
        long started = System.nanoTime();
        trainer.writeParameters(held.params_P);
        trainer.writeOptimizerState(held.optimizerState_S);
        LocalSteps local;
        String readerAfter;
        try (TrainingData.TokenStream stream = worker.data().open(rank, worker.workers(), worker.seqLen(), readerState)) {
            local = LocalSteps.run(trainer, stream, worker, plan.dataParallel() ? workers : null);
            readerAfter = stream.state();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        float[] mean_P = held.scratch_P;
        trainer.readParameters(mean_P);
        boolean finite = LocalSteps.allFinite(mean_P);
        int contributors = (int) Arrays.stream(workers.gatherValues(new long[] {finite ? 1 : 0})).sum();
        if (!finite) {
            LOG.warn("rank {} round {}: parameters are not finite after its local steps; left out of the average", rank,
                    round);
        }
        if (!plan.dataParallel() && contributors > 0) {
            if (!finite) {
                Arrays.fill(mean_P, 0f);
                trainer.writeParameters(mean_P);
            }
            trainer.sumParameters(workers);
            trainer.readParameters(mean_P);
            for (int i = 0; i < mean_P.length; i++) {
                mean_P[i] /= contributors;
            }
        }
        held.round = -1;
        if (contributors > 0) {
            // Data parallel: every rank already holds the same parameters; otherwise the outer step on the mean.
            if (plan.dataParallel()) {
                System.arraycopy(mean_P, 0, held.params_P, 0, mean_P.length);
            } else {
                held.outer.apply(held.params_P, mean_P);
            }
        } else {
            LOG.warn("rank {} round {}: no rank has finite parameters; the global parameters stay as they were", rank, round);
        }
        trainer.readOptimizerState(held.optimizerState_S);
        WorkerReport report = new WorkerReport(rank, order.attempt(), device.toString(), trainer.backendName(),
                local.steps(), local.stepSeconds(), readerAfter, !finite, seconds);
        held.lastReport = report;
        held.round = round + 1;
        return report;
    }

    /** The checkpoint's vectors this rank holds (when one is due) and, after the last round, rank 0's final/. */
    private static void writeOutputs(BarrierPlan plan, RoundOrder order, int rank, Held held) throws IOException {
        RunDirectory run = plan.worker().run();
        FileSystem fs = run.fileSystem();
        if (order.checkpointStaging() != null) {
            Path tmp = new Path(order.checkpointStaging());
            VectorFiles.write(fs, RunDirectory.workerStateFile(tmp, rank), held.optimizerState_S);
            if (rank == 0) {
                VectorFiles.write(fs, new Path(tmp, CheckpointStore.PARAMETERS), held.params_P);
                VectorFiles.write(fs, new Path(tmp, CheckpointStore.OUTER_OPTIMIZER), held.outer.state());
            }
        }
        if (order.last() && rank == 0) {
            FinalModel.write(run, plan.worker().engine(), held.params_P);
        }
    }

    private static boolean allEqual(String[] rounds, int round) {
        String wanted = Integer.toString(round);
        return Arrays.stream(rounds).allMatch(wanted::equals);
    }

    private static WorkerReport withAttempt(WorkerReport r, int attempt) {
        return new WorkerReport(r.worker(), attempt, r.device(), r.backend(), r.steps(), r.stepSeconds(), r.readerState(),
                r.excluded(), r.seconds());
    }

    private static BarrierOutcome outcome(WorkerReport report, int replayed) {
        String location = "executor_" + SparkEnv.get().blockManager().blockManagerId().host() + "_"
                + SparkEnv.get().executorId();
        return new BarrierOutcome(report, location, replayed);
    }
}
