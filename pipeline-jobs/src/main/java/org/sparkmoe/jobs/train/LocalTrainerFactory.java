package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.io.Serializable;
import org.sparkmoe.model.checkpoint.CheckpointFiles;
import org.sparkmoe.model.checkpoint.VectorRanges;

/**
 * Builds a worker's {@link LocalTrainer}; shipped to every Spark task, so it carries only configuration (model and
 * train config, seed), never weights.
 */
public interface LocalTrainerFactory extends Serializable {

    /**
     * A trainer on {@code device}. Every call with the same arguments starts from the same initial parameters, so
     * the driver and each worker agree on round 0 without shipping weights twice.
     */
    LocalTrainer create(ComputeDevice device);

    /**
     * The parameters every trainer from {@link #create} starts with, computed without building one: the driver holds
     * only this vector (and the outer optimiser's state), never an engine with activations and optimiser state.
     */
    float[] initialParameters();

    /**
     * The length of the parameter vector. The driver of a run whose workers synchronise among themselves checks
     * checkpoints against it without ever computing the vector.
     */
    default long parameterCount() {
        return initialParameters().length;
    }

    /** The tokenizer the model was configured for (its hash), checked against the dataset manifest. */
    String tokenizerHash();

    /** The longest sequence the model takes, plus one for the shifted targets. */
    int maxSeqLenPlusOne();

    /** The model's vocabulary size; every token id in the data must be below it. */
    int vocabSize();

    /** The resolved model and training configuration, written to the run directory. */
    String describeJson();

    /**
     * Writes the parameter vector of {@code count} values, read range by range from {@code params}, as a model others
     * can load (for the engine: {@code config.json} and the {@code model.safetensors} weights, sharded past 5 GB)
     * into {@code files}: the run's {@code final/}.
     */
    void exportModel(long count, VectorRanges.Source params, CheckpointFiles files) throws IOException;
}
