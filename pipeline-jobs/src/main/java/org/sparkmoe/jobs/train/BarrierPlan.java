package org.sparkmoe.jobs.train;

import java.io.Serializable;

/**
 * What every task of a run's barrier stages needs besides its round's {@link RoundOrder}. Small; shipped with each task.
 *
 * @param worker            the engine, data, run directory and round shape, as the driver path has them
 * @param sync              {@code barrier} (average the parameters after the local steps) or {@code data-parallel}
 *                          (average every step's gradients)
 * @param outerOptimizer    {@code average} or {@code diloco}: the outer step every rank applies to the same average
 * @param outerLearningRate DiLoCo's outer learning rate
 * @param outerMomentum     DiLoCo's outer Nesterov momentum
 * @param incarnation       this driver invocation's name for the run: the state executors hold between rounds is
 *                          used only by the invocation that made it ({@link HeldRounds})
 * @param validation        when and what the ranks score after a round ({@link ValidationPlan#OFF}: never)
 */
record BarrierPlan(WorkerPlan worker, String sync, String outerOptimizer, double outerLearningRate,
                   double outerMomentum, String incarnation, ValidationPlan validation) implements Serializable {

    boolean dataParallel() {
        return sync.equals(TrainSettings.SYNC_DATA_PARALLEL);
    }

    /** Whether the outer step is plain averaging: the mean itself is the next global parameters. */
    boolean averaging() {
        return outerOptimizer.equals("average");
    }

    OuterOptimizer newOuterOptimizer(int parameterCount) {
        return OuterOptimizer.create(outerOptimizer, parameterCount, outerLearningRate, outerMomentum);
    }
}
