package org.sparkmoe.jobs.train;

import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.TaskContext;
import org.apache.spark.broadcast.Broadcast;

/** The body of one worker task: H local steps from the round's broadcast, returning the worker's parameters. */
public final class WorkerRound {

    private static final Logger LOG = LogManager.getLogger(WorkerRound.class);

    private WorkerRound() {}

    public static RoundUpdate run(WorkerPlan plan, Broadcast<RoundBroadcast> broadcast, int worker)
            throws IOException {
        PhaseTimes times = new PhaseTimes();
        RoundBroadcast round = broadcast.value();
        times.lap("fetch");
        TaskContext task = TaskContext.get();
        int attempt = task == null ? 0 : task.attemptNumber();
        ComputeDevice device = plan.device().bind(task);
        FileSystem fs = plan.run().fileSystem();
        long started = System.nanoTime();
        LocalSteps local;
        float[] params_P;
        float[] optimizerState_S;
        String readerState;
        LocalTrainer trainer = IdleEngines.take(plan.engine(), device);
        String backend = trainer.backendName();
        times.lap("engine");
        try (TrainingData.TokenStream stream = plan.data().open(worker, plan.workers(), plan.seqLen(),
                round.readerStates()[worker])) {
            int stateSize = trainer.optimizerStateSize();
            trainer.writeParameters(round.params_P());
            if (round.averagedOptimizerState() != null) {
                trainer.writeOptimizerState(round.averagedOptimizerState());
            } else if (round.priorStatesDir() != null) {
                trainer.writeOptimizerState(VectorFiles.read(fs, RunDirectory.workerStateFile(new Path(round.priorStatesDir()), worker)));
            } else {
                trainer.writeOptimizerState(new float[stateSize]);
            }
            times.lap("load");
            local = LocalSteps.run(trainer, stream, plan, null);
            local.charge(times);
            params_P = new float[round.params_P().length];
            trainer.readParameters(params_P);
            optimizerState_S = new float[stateSize];
            trainer.readOptimizerState(optimizerState_S);
            readerState = stream.state();
            times.lap("read");
        } catch (RuntimeException | IOException e) {
            trainer.close();
            throw e;
        }
        IdleEngines.giveBack(plan.engine(), device, trainer);
        double seconds = (System.nanoTime() - started) / 1e9;
        // The state file is the next round's input; a retry rewrites it from the same inputs, so it is the same.
        VectorFiles.write(fs, RunDirectory.workerStateFile(plan.run().workerStates(round.round()), worker), optimizerState_S);
        boolean excluded = !LocalSteps.allFinite(params_P);
        if (excluded) {
            LOG.warn("worker {} round {}: parameters are not finite after its local steps; left out of the average",
                    worker, round.round());
        }
        times.lap("save");
        WorkerReport report = new WorkerReport(worker, attempt, device.toString(), backend, local.steps(),
                local.stepSeconds(), readerState, excluded, seconds, times.asMap(), null);
        return RoundUpdate.ofWorker(params_P, plan.averageOptimizerState() ? optimizerState_S : null, report);
    }
}
