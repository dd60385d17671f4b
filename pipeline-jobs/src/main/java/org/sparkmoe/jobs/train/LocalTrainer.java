package org.sparkmoe.jobs.train;

import java.lang.foreign.MemorySegment;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;
import org.sparkmoe.model.train.EvalMetrics;

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
 * averages each step's gradients, through it; there the trainer itself holds the rank's state between rounds, read
 * and written by range (models past 2^31 parameters), while {@code sync=driver} moves whole vectors as arrays.
 */
public interface LocalTrainer extends AutoCloseable {

    /** Number of fp32 parameters, the length of the parameter vector (may exceed 2^31). */
    long parameterCount();

    /** Copies parameters {@code [first, first + count)} into the start of {@code dst} (fp32, native order). */
    void readParameters(long first, long count, MemorySegment dst);

    /** Replaces parameters {@code [first, first + count)} by the first {@code count} values of {@code src}. */
    void writeParameters(long first, long count, MemorySegment src);

    /** Copies values {@code [first, first + count)} of AdamW's moments (m then v: 2·P values) into {@code dst}. */
    void readMoments(long first, long count, MemorySegment dst);

    /** Replaces values {@code [first, first + count)} of AdamW's moments (m then v) by the start of {@code src}. */
    void writeMoments(long first, long count, MemorySegment src);

    /** Inner optimiser steps applied so far (drives the LR schedule and Adam's bias correction). */
    long stepCount();

    void setStepCount(long steps);

    /** The state {@link LocalTrainerFactory#create} starts from: initial parameters, zero moments, step 0. */
    void reset();

    /** {@code parameters *= factor} in place on the trainer's device. */
    void scaleParameters(float factor);

    /** Whether every parameter is finite, checked on the trainer's device. */
    boolean parametersFinite();

    /**
     * The length of the optimiser-state vector of the array forms: the moments, then one slot for the step count
     * (fp32 holds step counts exactly up to 2^24). Arrays hold at most 2^31 values: a model with more parameters is
     * refused here, naming the setting that trains it.
     */
    default int optimizerStateSize() {
        return arrayStateSize(parameterCount());
    }

    /** {@link #optimizerStateSize()} of a model of {@code parameterCount} parameters, or the refusal. */
    static int arrayStateSize(long parameterCount) {
        long elements = 2 * parameterCount + 1;
        if (elements > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("a model of " + parameterCount + " parameters has " + elements
                    + " optimiser values, more than one Java array holds (2^31): sync=driver sends every worker's"
                    + " state through such arrays; train it with sync=barrier (the state stays on the workers'"
                    + " devices)");
        }
        return (int) elements;
    }

    /** The parameters as one array (models under 2^31 parameters). */
    default void readParameters(float[] into) {
        readParameters(0, into.length, MemorySegment.ofArray(into));
    }

    default void writeParameters(float[] from) {
        writeParameters(0, from.length, MemorySegment.ofArray(from));
    }

    /** The moments then the step count as one array of {@link #optimizerStateSize()} values. */
    default void readOptimizerState(float[] into) {
        int moments = into.length - 1;
        readMoments(0, moments, MemorySegment.ofArray(into));
        into[moments] = stepCount();
    }

    /** Replaces the whole optimiser state from the array form; all zeros is a fresh optimiser. */
    default void writeOptimizerState(float[] from) {
        int moments = from.length - 1;
        writeMoments(0, moments, MemorySegment.ofArray(from));
        setStepCount((long) from[moments]);
    }

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

    /**
     * Mean cross-entropy of {@code batch} sequences laid out as {@link #step(int[], int, int)} takes them, scored with
     * the current parameters; parameters, optimiser state and step count stay as they are (validation during
     * training, {@link ValidationPlan}).
     */
    EvalMetrics evaluate(int[] tokens, int batch, int seqLenPlusOne);

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
