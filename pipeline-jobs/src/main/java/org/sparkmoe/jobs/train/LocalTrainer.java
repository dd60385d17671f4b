package org.sparkmoe.jobs.train;

import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * The engine as one worker sees it: a model with its inner optimiser on one device, addressed through flat fp32
 * vectors in the engine's canonical order (architecture.md, "Engine" contract).
 *
 * <p>Lifecycle inside one Spark task: {@link LocalTrainerFactory#create} (or an idle one from an earlier round) →
 * {@link #writeParameters} (the round's broadcast) → {@link #writeOptimizerState} (this worker's state from the
 * previous round; all zeros must mean a fresh optimiser) → {@link #step} H times → {@link #readParameters} and
 * {@link #readOptimizerState} → kept idle for the next round, or {@link #close}. Those two writes must define the
 * whole training state: a retried task, or another worker reusing the engine, then computes from the same inputs
 * the same update, which is what makes a retry safe.
 *
 * <p>When the workers synchronise among themselves ({@code sync=barrier} or {@code data-parallel}, {@link BarrierRound})
 * a trainer also joins a {@link Collective} of the round's tasks over its own device and sums its parameters, or
 * averages each step's gradients, through it.
 */
public interface LocalTrainer extends AutoCloseable {

    /** Number of fp32 parameters, the length of the parameter vector. */
    int parameterCount();

    /** Number of fp32 values in the inner optimiser's state (AdamW: step count, first and second moments). */
    int optimizerStateSize();

    void readParameters(float[] into);

    void writeParameters(float[] from);

    void readOptimizerState(float[] into);

    void writeOptimizerState(float[] from);

    /**
     * One optimiser step on {@code batch} sequences of {@code seqLenPlusOne} token ids each (inputs and shifted
     * targets), laid out row after row in {@code tokens}. A step whose loss or gradient is not finite is skipped by
     * the engine and reported with {@link StepMetrics#applied()} false.
     */
    StepMetrics step(int[] tokens, int batch, int seqLenPlusOne);

    /**
     * {@link #step(int[], int, int)} with the gradients replaced by their mean over {@code workers} between backward
     * and the optimiser (synchronous data parallelism): every rank must call it, and every rank then applies the same
     * update, or skips the same non-finite one.
     */
    StepMetrics step(int[] tokens, int batch, int seqLenPlusOne, Collective workers);

    /** Joins a collective of the round's tasks over this trainer's device (CPU: TCP; CUDA: NCCL). */
    Collective joinCollective(int rank, int size, Rendezvous rendezvous);

    /** Replaces the parameters by their sum over {@code workers}' ranks, in place on this trainer's device. */
    void sumParameters(Collective workers);

    /**
     * The backend it really trains on, as the engine describes it (e.g. {@code cpu (...)}), which may differ from
     * the device the task was bound to when that device could not be opened.
     */
    String backendName();

    @Override
    void close();
}
