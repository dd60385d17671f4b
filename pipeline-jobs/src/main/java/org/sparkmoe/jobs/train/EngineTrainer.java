package org.sparkmoe.jobs.train;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;
import org.sparkmoe.model.train.EvalMetrics;
import org.sparkmoe.model.train.RoutingStats;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * {@link LocalTrainer} over moe-model's {@link TrainingEngine}: the vectors are the engine's own, by range, so a model
 * of any size trains with {@code sync=barrier}; the array forms of {@code sync=driver} hold models under 2^30
 * parameters (m and v in one array) and refuse larger ones, naming the setting.
 */
final class EngineTrainer implements LocalTrainer {

    private final TrainingEngine engine;
    private final Backend backend;
    private final String backendName;
    private final long seed;

    /** {@code backend} is the one {@code engine} runs on; collectives are joined over it; {@code seed} its init's. */
    EngineTrainer(TrainingEngine engine, Backend backend, long seed) {
        this.engine = engine;
        this.backend = backend;
        this.backendName = backend.describe();
        this.seed = seed;
    }

    @Override
    public String backendName() {
        return backendName;
    }

    @Override
    public long parameterCount() {
        return engine.parameterCount();
    }

    @Override
    public void readParameters(long first, long count, MemorySegment dst) {
        engine.readParameters(first, count, dst);
    }

    @Override
    public void writeParameters(long first, long count, MemorySegment src) {
        engine.writeParameters(first, count, src);
    }

    @Override
    public void readMoments(long first, long count, MemorySegment dst) {
        engine.readOptimizerState(first, count, dst);
    }

    @Override
    public void writeMoments(long first, long count, MemorySegment src) {
        engine.writeOptimizerState(first, count, src);
    }

    @Override
    public long stepCount() {
        return engine.stepCount();
    }

    @Override
    public void setStepCount(long steps) {
        engine.setStepCount(steps);
    }

    @Override
    public void reset() {
        engine.reset(seed);
    }

    @Override
    public void scaleParameters(float factor) {
        engine.scaleParameters(factor);
    }

    @Override
    public boolean parametersFinite() {
        return engine.parametersFinite();
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
    public EvalMetrics evaluate(int[] tokens, int batch, int seqLenPlusOne) {
        return engine.evaluate(tokens, batch, seqLenPlusOne);
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
