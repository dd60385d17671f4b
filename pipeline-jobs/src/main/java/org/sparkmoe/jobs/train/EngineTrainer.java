package org.sparkmoe.jobs.train;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;
import org.sparkmoe.model.train.RoutingStats;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * {@link LocalTrainer} over moe-model's {@link TrainingEngine}. The optimiser-state vector is AdamW's m and v
 * followed by one slot holding the engine's step counter (it drives the LR schedule and Adam's bias correction, so
 * a worker rebuilt in the next round continues the schedule); fp32 holds step counts exactly up to 2^24. These
 * Java-array vectors limit this trainer to models under 2^30 parameters (m and v in one array); larger models
 * are refused here, naming the limit.
 */
final class EngineTrainer implements LocalTrainer {

    private final TrainingEngine engine;
    private final Backend backend;
    private final String backendName;

    /** {@code backend} is the one {@code engine} runs on; collectives are joined over it. */
    EngineTrainer(TrainingEngine engine, Backend backend) {
        this.engine = engine;
        this.backend = backend;
        this.backendName = backend.describe();
    }

    @Override
    public String backendName() {
        return backendName;
    }

    @Override
    public int parameterCount() {
        return arrayLength(engine.parameterCount());
    }

    @Override
    public int optimizerStateSize() {
        return arrayLength(engine.optimizerStateSize() + 1);
    }

    private int arrayLength(long elements) {
        if (elements > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("model " + engine.modelConfig().name() + " has " + engine.parameterCount()
                    + " parameters: the parameter-averaging trainer's vectors are Java arrays, which hold at most 2^31"
                    + " elements (the optimiser state twice the parameters); train it with a trainer that works on the"
                    + " engine's arenas");
        }
        return (int) elements;
    }

    @Override
    public void readParameters(float[] into) {
        engine.readParameters(into);
    }

    @Override
    public void writeParameters(float[] from) {
        engine.writeParameters(from);
    }

    @Override
    public void readOptimizerState(float[] into) {
        // The engine fills the first 2P slots in place: no second 2P-sized copy on the worker.
        engine.readOptimizerState(into);
        into[optimizerStateSize() - 1] = engine.stepCount();
    }

    @Override
    public void writeOptimizerState(float[] from) {
        engine.writeOptimizerState(from);
        engine.setStepCount((long) from[optimizerStateSize() - 1]);
    }

    @Override
    public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne) {
        return metrics(engine.step(tokens, batch, seqLenPlusOne));
    }

    @Override
    public StepMetrics step(int[] tokens, int batch, int seqLenPlusOne, Collective workers) {
        return metrics(engine.step(tokens, batch, seqLenPlusOne, workers::allReduceMean));
    }

    @Override
    public Collective joinCollective(int rank, int size, Rendezvous rendezvous) {
        return backend.joinCollective(rank, size, rendezvous);
    }

    @Override
    public void sumParameters(Collective workers) {
        workers.allReduceSum(engine.model().parameters().values());
    }

    private static StepMetrics metrics(org.sparkmoe.model.train.StepMetrics m) {
        List<StepMetrics.LayerRouting> layers = new ArrayList<>(m.routing().size());
        for (RoutingStats r : m.routing()) {
            layers.add(new StepMetrics.LayerRouting(r.layer(), r.tokensPerExpert(), r.routerEntropy()));
        }
        return new StepMetrics(m.totalLoss(), Map.of("cross_entropy", m.loss(), "expert_balance", m.expertBalanceLoss(),
                "device_balance", m.deviceBalanceLoss()), m.lr(), m.gradNorm(), m.tokens(), !m.skipped(), layers);
    }

    /** The wrapped engine, for evaluation. */
    TrainingEngine engine() {
        return engine;
    }

    @Override
    public void close() {
        engine.close();
    }
}
