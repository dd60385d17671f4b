package org.sparkmoe.jobs.train;

import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.TaskContext;

/** The body of one worker task: H local steps from the round's broadcast, returning the worker's parameters. */
public final class WorkerRound {

    private static final Logger LOG = LogManager.getLogger(WorkerRound.class);

    private WorkerRound() {}

    public static RoundUpdate run(WorkerPlan plan, RoundBroadcast round, int worker) throws IOException {
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
        try (TrainingData.TokenStream stream = plan.data().open(worker, plan.workers(), plan.seqLen(),
                round.readerStates()[worker])) {
            trainer.writeParameters(round.params_P());
            if (round.averagedOptimizerState() != null) {
                trainer.writeOptimizerState(round.averagedOptimizerState());
            } else if (round.priorStatesDir() != null) {
                trainer.writeOptimizerState(VectorFiles.read(fs, RunDirectory.workerStateFile(new Path(round.priorStatesDir()), worker)));
            } else {
                trainer.writeOptimizerState(new float[trainer.optimizerStateSize()]);
            }
            local = LocalSteps.run(trainer, stream, plan, null);
            params_P = new float[trainer.parameterCount()];
            trainer.readParameters(params_P);
            optimizerState_S = new float[trainer.optimizerStateSize()];
            trainer.readOptimizerState(optimizerState_S);
            readerState = stream.state();
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
        WorkerReport report = new WorkerReport(worker, attempt, device.toString(), backend, local.steps(),
                local.stepSeconds(), readerState, excluded, seconds);
        return RoundUpdate.ofWorker(params_P, plan.averageOptimizerState() ? optimizerState_S : null, report);
    }
}
