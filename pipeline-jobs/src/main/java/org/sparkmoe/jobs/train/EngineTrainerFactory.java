package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.TaskContext;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.CudaBackends;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.backend.cuda.DeviceSelection;
import org.sparkmoe.model.backend.cuda.GemmPrecision;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.decoder.ParameterInit;
import org.sparkmoe.model.decoder.ParameterLayout;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Builds {@link EngineTrainer}s over moe-model's {@link TrainingEngine}: carries the model preset's properties and
 * the engine's train-config properties (the {@code engine.*} keys of {@code conf/train.properties}, with
 * {@code total_steps} = rounds x local-steps), so executors need no local files.
 *
 * @param modelName     the preset name or properties path the model came from
 * @param modelProps    the model config's properties (keys of conf/models/*.properties)
 * @param trainProps    the engine's TrainConfig properties
 * @param seed          init seed: every worker and the driver start from the same parameters
 * @param tokenizerHash the SHA-256 of the tokenizer.json the model is for
 * @param cudaPrecision GEMM operand precision on a CUDA device (bf16 or fp32)
 * @param cudaAttention how the CUDA backend computes attention (gemm or fused)
 */
public record EngineTrainerFactory(String modelName, Properties modelProps, Properties trainProps, long seed,
                                   String tokenizerHash, GemmPrecision cudaPrecision, AttentionPath cudaAttention)
        implements LocalTrainerFactory {

    private static final Logger LOG = LogManager.getLogger(EngineTrainerFactory.class);
    private static final String ENGINE_PREFIX = "engine.";

    /**
     * From the train job's settings. {@code tokenizerHash} is the tokenizer the model is trained for: the hash of
     * {@code tokenizer} when set, else the dataset's (a resumed run then checks it against its checkpoint).
     */
    public static EngineTrainerFactory fromSettings(JobSettings settings, TrainSettings train, String tokenizerHash) {
        Properties model = modelProperties(train.model());
        Properties engine = new Properties();
        settings.asMap().forEach((k, v) -> {
            if (k.startsWith(ENGINE_PREFIX)) {
                engine.setProperty(k.substring(ENGINE_PREFIX.length()), v);
            }
        });
        engine.setProperty("total_steps", Long.toString((long) train.rounds() * train.localSteps()));
        String precision = settings.string("cuda-gemm-precision");
        settings.require(precision.equals("bf16") || precision.equals("fp32"), "cuda-gemm-precision", "bf16 or fp32");
        String attention = settings.string("cuda-attention");
        settings.require(attention.equals("gemm") || attention.equals("fused"), "cuda-attention", "gemm or fused");
        EngineTrainerFactory factory = new EngineTrainerFactory(train.model(), model, engine, train.seed(), tokenizerHash,
                GemmPrecision.valueOf(precision.toUpperCase(java.util.Locale.ROOT)),
                AttentionPath.valueOf(attention.toUpperCase(java.util.Locale.ROOT)));
        try {
            TrainConfig trainConfig = factory.trainConfig();
            if (train.batchSize() % trainConfig.microBatch() != 0) {
                throw new UsageException("batch-size=" + train.batchSize() + " is not a multiple of engine.micro_batch="
                        + trainConfig.microBatch() + ": choose a batch-size the micro-batches divide");
            }
            factory.modelConfig();
        } catch (IllegalArgumentException e) {
            throw new UsageException("model '" + train.model() + "' or its engine.* settings are invalid: " + e.getMessage(), e);
        }
        return factory;
    }

    private static Properties modelProperties(String nameOrPath) {
        Properties props = new Properties();
        String resource = "sparkmoe-conf/models/" + nameOrPath + ".properties";
        try (InputStream bundled = EngineTrainerFactory.class.getClassLoader().getResourceAsStream(resource)) {
            if (bundled != null) {
                props.load(new InputStreamReader(bundled, StandardCharsets.UTF_8));
                return props;
            }
            Path path = new Path(nameOrPath);
            FileSystem fs = path.getFileSystem(new Configuration());
            if (!fs.exists(path)) {
                throw new UsageException("model '" + nameOrPath + "' is neither a preset (" + ModelPresets.NAMES
                        + ") nor an existing .properties file: give a preset name or the path (any Hadoop URI) of a model"
                        + " .properties file with every key of conf/models/tiny.properties");
            }
            try (InputStream in = fs.open(path)) {
                props.load(new InputStreamReader(in, StandardCharsets.UTF_8));
            }
            return props;
        } catch (IOException e) {
            throw new UsageException("cannot read model config " + nameOrPath + ": " + e.getMessage(), e);
        }
    }

    /** The model config the engine is built from (preset plus overrides). */
    public ModelConfig modelConfig() {
        return ModelPresets.fromProperties(modelName, modelProps);
    }

    TrainConfig trainConfig() {
        return TrainConfig.fromProperties(trainProps);
    }

    @Override
    public LocalTrainer create(ComputeDevice device) {
        Backend backend = openBackend(device);
        return new EngineTrainer(TrainingEngine.create(modelConfig(), trainConfig(), backend, seed), backend);
    }

    @Override
    public int parameterCount() {
        return Math.toIntExact(ParameterLayout.of(modelConfig()).totalElements());
    }

    @Override
    public float[] initialParameters() {
        return ParameterInit.initialValues(modelConfig(), seed);
    }

    /** The bare engine on {@code device}, initialised from the seed (evaluation writes trained parameters into it). */
    public TrainingEngine createEngine(ComputeDevice device) {
        return TrainingEngine.create(modelConfig(), trainConfig(), openBackend(device), seed);
    }

    /** The backend for {@code device}: CUDA there if it opens, else the CPU, saying which and why in the log. */
    private Backend openBackend(ComputeDevice device) {
        TaskContext task = TaskContext.get();
        int threads = task != null ? Math.max(1, task.cpus()) : Runtime.getRuntime().availableProcessors();
        Backend backend;
        if (device.isCuda()) {
            // cudaOrCpu logs why it falls back (no driver, no device, a failed call); the message says which it chose.
            CudaBackends.Choice choice = CudaBackends.cudaOrCpu(
                    new DeviceSelection(device.ordinal(), "the Spark task's gpu resource"), cudaPrecision, cudaAttention,
                    () -> new CpuBackend(threads));
            LOG.info("engine backend: {}", choice.message());
            backend = choice.backend();
        } else {
            backend = new CpuBackend(threads);
        }
        return backend;
    }

    /** {@code config.json} and fp32 {@code model.safetensors} in the DeepSeekMoE names (the score job loads them). */
    @Override
    public void exportModel(float[] params_P, java.nio.file.Path dir) throws IOException {
        // No engine on the driver; the workers' optimiser states are in the checkpoints.
        Checkpoints.saveModel(modelConfig(), params_P, dir, Safetensors.Dtype.F32);
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
                            "tokenizer_sha256", tokenizerHash, "cuda_gemm_precision", cudaPrecision.name().toLowerCase()));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
