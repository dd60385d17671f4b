package org.sparkmoe.jobs.train;

/**
 * The engine as one worker sees it: a model with its inner optimiser on one device, addressed through flat fp32
 * vectors in the engine's canonical order (architecture.md, "Engine" contract).
 *
 * <p>Lifecycle inside one Spark task: {@link LocalTrainerFactory#create} → {@link #writeParameters} (the round's
 * broadcast) → optionally {@link #writeOptimizerState} (this worker's state from the previous round) → {@link #step}
 * H times → {@link #readParameters} and {@link #readOptimizerState} → {@link #close}. Nothing survives the task: a
 * retried task rebuilds the same state from the same inputs, which is what makes a retry safe.
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

    @Override
    void close();
}
