package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.TaskContext;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.model.ModelSpec;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.checkpoint.CheckpointFiles;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.checkpoint.VectorRanges;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.decoder.ParameterInit;
import org.sparkmoe.model.decoder.ParameterLayout;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Builds {@link EngineTrainer}s over moe-model's {@link TrainingEngine}: carries the model's properties (preset plus
 * overrides) and the engine's train-config properties (the {@code engine.*} keys of {@code conf/train.properties}
 * without the prefix, with {@code total-steps} = rounds x local-steps), so executors need no local files.
 *
 * @param modelName     the preset name or properties path the model came from, with its overrides
 * @param modelProps    the model config's properties (keys of conf/models/*.properties, overrides applied)
 * @param trainProps    the engine's TrainConfig properties ({@link TrainConfig#fromProperties})
 * @param seed          init seed: every worker and the driver start from the same parameters
 * @param tokenizerHash the SHA-256 of the tokenizer.json the model is for
 * @param device        where engines run: backend, device, CUDA GEMM precision and attention path
 */
public record EngineTrainerFactory(String modelName, Properties modelProps, Properties trainProps, long seed,
                                   String tokenizerHash, EngineDevice device) implements LocalTrainerFactory {

    private static final String ENGINE_PREFIX = "engine.";

    /**
     * From the train job's settings. {@code tokenizerHash} is the tokenizer the model is trained for: the hash of
     * {@code tokenizer} when set, else the dataset's (a resumed run then checks it against its checkpoint).
     * {@code hadoop} reads a model file given by path.
     */
    public static EngineTrainerFactory fromSettings(JobSettings settings, TrainSettings train, String tokenizerHash,
                                                    Configuration hadoop) {
        ModelSpec model = ModelSpec.resolve(train.model(), settings.overrides(), hadoop);
        Properties engine = new Properties();
        settings.asMap().forEach((k, v) -> {
            if (k.startsWith(ENGINE_PREFIX)) {
                engine.setProperty(k.substring(ENGINE_PREFIX.length()), v);
            }
        });
        engine.setProperty(TrainConfig.TOTAL_STEPS, Long.toString((long) train.rounds() * train.localSteps()));
        EngineTrainerFactory factory = new EngineTrainerFactory(model.name(), model.properties(), engine, train.seed(),
                tokenizerHash, train.device());
        TrainConfig trainConfig;
        try {
            trainConfig = factory.trainConfig();
        } catch (IllegalArgumentException e) {
            throw new UsageException("the engine.* settings are invalid: " + e.getMessage(), e);
        }
        if (train.batchSize() % trainConfig.microBatch() != 0) {
            throw new UsageException("batch-size=" + train.batchSize() + " is not a multiple of engine.micro-batch="
                    + trainConfig.microBatch() + ": choose a batch-size the micro-batches divide");
        }
        return factory;
    }

    /** The same model and training configuration, its engines on {@code other} (evaluate chooses its own device). */
    public EngineTrainerFactory on(EngineDevice other) {
        return new EngineTrainerFactory(modelName, modelProps, trainProps, seed, tokenizerHash, other);
    }

    /** The model config the engine is built from (preset plus overrides). */
    public ModelConfig modelConfig() {
        return ModelPresets.fromProperties(modelName, modelProps);
    }

    TrainConfig trainConfig() {
        return TrainConfig.fromProperties(trainProps);
    }

    @Override
    public LocalTrainer create(ComputeDevice bound) {
        Backend backend = openBackend(bound);
        return new EngineTrainer(TrainingEngine.create(modelConfig(), trainConfig(), backend, seed), backend, seed);
    }

    @Override
    public long parameterCount() {
        return ParameterLayout.of(modelConfig()).totalElements();
    }

    @Override
    public float[] initialParameters() {
        return ParameterInit.initialValues(modelConfig(), seed);
    }

    /**
     * An inference engine on {@code bound} (no gradients, no optimiser state; parameters zero until the caller
     * writes the trained ones), for evaluation.
     */
    public TrainingEngine createInferenceEngine(ComputeDevice bound) {
        return TrainingEngine.createForInference(modelConfig(), trainConfig(), openBackend(bound));
    }

    /** The backend on the bound device; a CPU backend gets the task's CPUs as threads. */
    private Backend openBackend(ComputeDevice bound) {
        TaskContext task = TaskContext.get();
        int threads = task != null ? Math.max(1, task.cpus()) : Runtime.getRuntime().availableProcessors();
        return device.open(bound, threads);
    }

    /** {@code config.json} and fp32 {@code model.safetensors} in the DeepSeekMoE names (the score job loads them). */
    @Override
    public void exportModel(long count, VectorRanges.Source params, CheckpointFiles files) throws IOException {
        // Without an engine (the driver has none); the workers' optimiser states are in the checkpoints.
        long expected = parameterCount();
        if (count != expected) {
            throw new IllegalArgumentException("parameter vector has " + count + " values; model " + modelName
                    + " has " + expected);
        }
        Checkpoints.saveModel(modelConfig(), params, files, Safetensors.Dtype.F32, Checkpoints.DEFAULT_SHARD_BYTES);
    }

    @Override
    public int maxSeqLenPlusOne() {
        return modelConfig().maxSeqLen() + 1;
    }

    @Override
    public int vocabSize() {
        return modelConfig().vocabSize();
    }

    @Override
    public String describeJson() {
        Map<String, String> model = new TreeMap<>();
        modelProps.forEach((k, v) -> model.put(k.toString(), v.toString()));
        Map<String, String> engine = new TreeMap<>();
        trainProps.forEach((k, v) -> engine.put(k.toString(), v.toString()));
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(
                    Map.of("model", modelName, "model_config", model, "train_config", engine, "seed", seed,
                            "tokenizer_sha256", tokenizerHash, "cuda_gemm_precision",
                            device.gemmPrecision().name().toLowerCase(java.util.Locale.ROOT)));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
