package org.sparkmoe.model.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.decoder.ParameterLayout;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.decoder.WholeModelReader;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Checkpoint directories: {@code config.json} (HF style), the weights in the DeepSeekMoE 16B tensor names (fp32 or
 * bf16) and, for training continuation, AdamW's m and v as {@code <name>.exp_avg} / {@code <name>.exp_avg_sq} (fp32,
 * the step counters in the metadata). Weights and optimiser state are each one {@code model.safetensors} /
 * {@code optimizer.safetensors} while their data fits one shard ({@link #DEFAULT_SHARD_BYTES}, Hugging Face's 5 GB),
 * else shards {@code model-00001-of-0000N.safetensors} with {@code model.safetensors.index.json} (likewise
 * {@code optimizer-...}), as Hugging Face writes large models; a sharded checkpoint of another tool loads the same
 * way. Both directions stream tensor by tensor between the engine and the files ({@link CheckpointFiles}: a local
 * directory or, from pipeline-jobs, a Hadoop filesystem); no array of all parameters is built. Saving then loading an
 * fp32 checkpoint continues training bit-identically.
 *
 * <p>A checkpoint is always the whole model. The ranks of an expert-parallel group save together: rank 0 writes
 * every tensor, the other ranks' experts reaching it block by block through the collective
 * ({@link WholeModelReader}); loading, each rank reads the replicated tensors and its own experts by name, the files
 * checked against the whole model (docs/expert-parallel.md).
 */
public final class Checkpoints {

    public static final String CONFIG = "config.json";
    /** The weights' file name (or shard prefix, without {@code .safetensors}) and index. */
    public static final String MODEL = "model.safetensors";
    public static final String MODEL_INDEX = "model.safetensors.index.json";
    public static final String OPTIMIZER = "optimizer.safetensors";
    /** Hugging Face's default {@code max_shard_size} ("5GB"). */
    public static final long DEFAULT_SHARD_BYTES = 5_000_000_000L;
    private static final String MODEL_PREFIX = "model";
    private static final String OPTIMIZER_PREFIX = "optimizer";
    private static final List<String> MOMENTS = List.of(".exp_avg", ".exp_avg_sq");

    private Checkpoints() {
    }

    /** Saves the engine's model (in {@code dtype}) and, in fp32, its optimiser state into local {@code dir}. */
    public static void save(TrainingEngine engine, Path dir, Safetensors.Dtype dtype) throws IOException {
        save(engine, CheckpointFiles.local(dir), dtype, DEFAULT_SHARD_BYTES);
    }

    /**
     * Saves the engine's config and model (in {@code dtype}) and, for a training engine, its optimiser state in fp32,
     * in shards of at most {@code maxShardBytes} of tensor data. Under expert parallelism every rank of the group calls
     * it with the same arguments, between steps; rank 0 writes the whole model and the others send it their experts.
     */
    public static void save(TrainingEngine engine, CheckpointFiles files, Safetensors.Dtype dtype, long maxShardBytes)
            throws IOException {
        if (engine.expertPlacement() != null) {
            saveExpertParallel(engine, files, dtype, maxShardBytes);
            return;
        }
        ParameterLayout layout = engine.layout();
        writeConfig(engine.modelConfig(), files);
        SafetensorsShards.write(files, MODEL_PREFIX, tensors(layout, "", engine::readParameters), dtype,
                Map.of("format", "pt"), maxShardBytes);
        if (!engine.training()) {
            return;
        }
        long n = engine.parameterCount();
        VectorRanges.Source state = engine::readOptimizerState;
        writeMoments(layout, state, state.from(n), Map.of("step", Long.toString(engine.stepCount()), "skipped_steps",
                Long.toString(engine.skippedSteps())), files, maxShardBytes);
    }

    /**
     * The save of an expert-parallel rank: the parameters, then AdamW's m, then v, each read as the whole model's
     * tensors on rank 0 while the other ranks serve their expert blocks in the same order.
     */
    private static void saveExpertParallel(TrainingEngine engine, CheckpointFiles files, Safetensors.Dtype dtype,
                                           long maxShardBytes) throws IOException {
        DeepSeekMoeModel model = engine.model();
        boolean writer = engine.expertPlacement().rank() == 0;
        ParameterLayout whole = ParameterLayout.of(engine.modelConfig());
        WholeModelReader params = model.wholeReader(engine.parameterArena());
        if (writer) {
            writeConfig(engine.modelConfig(), files);
            SafetensorsShards.write(files, MODEL_PREFIX, tensors(whole, "", params), dtype, Map.of("format", "pt"),
                    maxShardBytes);
            params.finish();
        } else {
            params.serve();
        }
        WholeModelReader m = model.wholeReader(engine.adamM());
        if (!writer) {
            m.serve();
            model.wholeReader(engine.adamV()).serve();
            return;
        }
        List<Safetensors.Tensor> moments = new ArrayList<>(tensors(whole, MOMENTS.get(0), m));
        WholeModelReader v = model.wholeReader(engine.adamV());
        moments.addAll(tensors(whole, MOMENTS.get(1), v));
        SafetensorsShards.write(files, OPTIMIZER_PREFIX, moments, Safetensors.Dtype.F32, Map.of("step",
                Long.toString(engine.stepCount()), "skipped_steps", Long.toString(engine.skippedSteps())), maxShardBytes);
        m.finish();
        v.finish();
    }

    /** Every tensor of {@code layout} (names followed by {@code suffix}), its values read from {@code vector}. */
    private static List<Safetensors.Tensor> tensors(ParameterLayout layout, String suffix, VectorRanges.Source vector) {
        List<Safetensors.Tensor> out = new ArrayList<>();
        for (ParameterSpec s : layout.specs()) {
            out.add(new Safetensors.Tensor(s.name() + suffix, s.shape(), dst -> vector.read(s.offset(), s.size(), dst)));
        }
        return out;
    }

    /** AdamW's m and v as {@code optimizer.safetensors} (fp32, sharded past {@code maxShardBytes}). */
    private static void writeMoments(ParameterLayout layout, VectorRanges.Source m, VectorRanges.Source v,
                                     Map<String, String> metadata, CheckpointFiles files, long maxShardBytes)
            throws IOException {
        List<Safetensors.Tensor> moments = new ArrayList<>(tensors(layout, MOMENTS.get(0), m));
        moments.addAll(tensors(layout, MOMENTS.get(1), v));
        SafetensorsShards.write(files, OPTIMIZER_PREFIX, moments, Safetensors.Dtype.F32, metadata, maxShardBytes);
    }

    /** Every tensor of {@code whole} (names followed by {@code suffix}), its values from {@code reader}. */
    private static List<Safetensors.Tensor> tensors(ParameterLayout whole, String suffix, WholeModelReader reader) {
        List<Safetensors.Tensor> out = new ArrayList<>();
        for (ParameterSpec s : whole.specs()) {
            out.add(new Safetensors.Tensor(s.name() + suffix, s.shape(), dst -> reader.read(s, dst)));
        }
        return out;
    }

    /**
     * Saves a model given as its flat parameter vector ({@link ParameterLayout} order of {@code config}) without an
     * engine: {@code config.json} and the weights (in {@code dtype}), no optimiser state.
     */
    public static void saveModel(ModelConfig config, float[] params, Path dir, Safetensors.Dtype dtype)
            throws IOException {
        saveModel(config, params, CheckpointFiles.local(dir), dtype, DEFAULT_SHARD_BYTES);
    }

    /** {@link #saveModel(ModelConfig, float[], Path, Safetensors.Dtype)} into any {@link CheckpointFiles}. */
    public static void saveModel(ModelConfig config, float[] params, CheckpointFiles files, Safetensors.Dtype dtype,
                                 long maxShardBytes) throws IOException {
        long expected = ParameterLayout.of(config).totalElements();
        if (params.length != expected) {
            throw new IllegalArgumentException("parameter vector has " + params.length + " values; model "
                    + config.name() + " has " + expected);
        }
        saveModel(config, VectorRanges.of(params), files, dtype, maxShardBytes);
    }

    /**
     * Saves a model given as its flat parameter vector ({@link ParameterLayout} order of {@code config}), read range
     * by range from {@code params} (any size: no array of all parameters), without an engine: {@code config.json}
     * and the weights (in {@code dtype}), no optimiser state.
     */
    public static void saveModel(ModelConfig config, VectorRanges.Source params, CheckpointFiles files,
                                 Safetensors.Dtype dtype, long maxShardBytes) throws IOException {
        writeConfig(config, files);
        SafetensorsShards.write(files, MODEL_PREFIX, tensors(ParameterLayout.of(config), "", params), dtype,
                Map.of("format", "pt"), maxShardBytes);
    }

    /**
     * Saves AdamW's state without an engine: its moments m and v as flat vectors in {@code config}'s parameter order,
     * read range by range, and the optimiser's {@code step}, as {@link #save} writes them beside the weights (a
     * checkpoint directory that also holds {@link #saveModel} output continues training like an engine's).
     */
    public static void saveOptimizerState(ModelConfig config, VectorRanges.Source m, VectorRanges.Source v, long step,
                                          CheckpointFiles files, long maxShardBytes) throws IOException {
        writeMoments(ParameterLayout.of(config), m, v, Map.of("step", Long.toString(step)), files, maxShardBytes);
    }

    /**
     * Reads a checkpoint's weights, checked by name and shape against {@code config}, into {@code params}: each
     * tensor at its offset in {@code config}'s flat parameter order (the reverse of
     * {@link #saveModel(ModelConfig, VectorRanges.Source, CheckpointFiles, Safetensors.Dtype, long)}).
     */
    public static void readModel(CheckpointFiles files, ModelConfig config, VectorRanges.Sink params)
            throws IOException {
        ParameterLayout whole = ParameterLayout.of(config);
        readTensors(files, MODEL_PREFIX, whole, List.of(""), whole, List.of(params));
    }

    /**
     * Reads a checkpoint's AdamW state, checked against {@code config}, into {@code m} and {@code v} (flat, in
     * {@code config}'s parameter order); returns the optimiser's step.
     */
    public static long readOptimizerState(CheckpointFiles files, ModelConfig config, VectorRanges.Sink m,
                                          VectorRanges.Sink v) throws IOException {
        ParameterLayout whole = ParameterLayout.of(config);
        return step(readTensors(files, OPTIMIZER_PREFIX, whole, MOMENTS, whole, List.of(m, v)));
    }

    private static void writeConfig(ModelConfig config, CheckpointFiles files) throws IOException {
        try (OutputStream out = files.create(CONFIG)) {
            HfConfig.write(config, out);
        }
    }

    /**
     * Loads a local checkpoint into a new training engine: the config from {@code config.json}, the weights (ours or
     * any in these names, one file or sharded), the optimiser state if present.
     */
    public static TrainingEngine load(Path dir, TrainConfig trainConfig, Backend backend) throws IOException {
        return load(CheckpointFiles.local(dir), trainConfig, backend);
    }

    /** {@link #load(CheckpointFiles, TrainConfig, Backend, Collective)} from a local directory. */
    public static TrainingEngine load(Path dir, TrainConfig trainConfig, Backend backend, Collective expertParallel)
            throws IOException {
        return load(CheckpointFiles.local(dir), trainConfig, backend, expertParallel);
    }

    /** {@link #load(Path, TrainConfig, Backend)} from any {@link CheckpointFiles}. */
    public static TrainingEngine load(CheckpointFiles files, TrainConfig trainConfig, Backend backend)
            throws IOException {
        return load(files, trainConfig, backend, null);
    }

    /**
     * {@link #load(CheckpointFiles, TrainConfig, Backend)} into rank {@code expertParallel.rank()} of an
     * expert-parallel group ({@link TrainingEngine#create(ModelConfig, TrainConfig, Backend, long, Collective)}): the
     * replicated tensors and the rank's experts, read by name; every rank of the group calls it. Null: the whole model.
     */
    public static TrainingEngine load(CheckpointFiles files, TrainConfig trainConfig, Backend backend,
                                      Collective expertParallel) throws IOException {
        ModelConfig config = readConfig(files);
        TrainingEngine engine = TrainingEngine.createForLoading(config, trainConfig, backend, expertParallel);
        try {
            loadWeights(files, engine);
            if (SafetensorsShards.exists(files, OPTIMIZER_PREFIX)) {
                long n = engine.parameterCount();
                VectorRanges.Sink state = engine::writeOptimizerState;
                engine.setStepCount(step(readTensors(files, OPTIMIZER_PREFIX, ParameterLayout.of(config), MOMENTS,
                        engine.layout(), List.of(state, state.from(n)))));
            }
            return engine;
        } catch (IOException | RuntimeException e) {
            engine.close();
            throw e;
        }
    }

    /**
     * Loads a checkpoint's config and weights into an inference engine (no gradients, no optimiser state: what
     * score, evaluate and generate need), micro-batches of {@code trainConfig.microBatch()} sequences.
     */
    public static TrainingEngine loadForInference(CheckpointFiles files, TrainConfig trainConfig, Backend backend)
            throws IOException {
        TrainingEngine engine = TrainingEngine.createForInference(readConfig(files), trainConfig, backend);
        try {
            loadWeights(files, engine);
            return engine;
        } catch (IOException | RuntimeException e) {
            engine.close();
            throw e;
        }
    }

    /** {@link #loadForInference(CheckpointFiles, TrainConfig, Backend)} from a local directory. */
    public static TrainingEngine loadForInference(Path dir, TrainConfig trainConfig, Backend backend)
            throws IOException {
        return loadForInference(CheckpointFiles.local(dir), trainConfig, backend);
    }

    private static void loadWeights(CheckpointFiles files, TrainingEngine engine) throws IOException {
        readTensors(files, MODEL_PREFIX, ParameterLayout.of(engine.modelConfig()), List.of(""), engine.layout(),
                List.of(engine::writeParameters));
    }

    /**
     * Streams the tensors of {@code prefix}'s files, checked against {@code whole}'s parameters (each followed by one
     * of {@code suffixes}), into {@code sinks} (one per suffix) at their offsets in {@code target}: the whole layout,
     * or an expert-parallel rank's, which skips the experts it does not hold. Returns the files' layout (metadata).
     */
    private static SafetensorsShards.Layout readTensors(CheckpointFiles files, String prefix, ParameterLayout whole,
                                                        List<String> suffixes, ParameterLayout target,
                                                        List<VectorRanges.Sink> sinks) throws IOException {
        SafetensorsShards.Layout stored = SafetensorsShards.layout(files, prefix);
        check(stored, whole, suffixes);
        SafetensorsShards.read(files, stored, (e, values) -> {
            for (int i = 0; i < suffixes.size(); i++) {
                String suffix = suffixes.get(i);
                if (!e.name().endsWith(suffix)) {
                    continue;
                }
                String name = e.name().substring(0, e.name().length() - suffix.length());
                if (target.contains(name)) {
                    ParameterSpec s = target.get(name);
                    sinks.get(i).write(s.offset(), s.size(), values);
                    return;
                }
            }
        });
        return stored;
    }

    private static long step(SafetensorsShards.Layout optimizer) {
        return Long.parseLong(optimizer.metadata().getOrDefault("step", "0"));
    }

    /** Reads the model config of a local checkpoint directory. */
    public static ModelConfig readConfig(Path dir) throws IOException {
        return readConfig(CheckpointFiles.local(dir));
    }

    /** Reads the model config of a checkpoint. */
    public static ModelConfig readConfig(CheckpointFiles files) throws IOException {
        String where = files.describe(CONFIG);
        String dirName = Path.of(where).getParent() == null ? "checkpoint"
                : String.valueOf(Path.of(where).getParent().getFileName());
        try (InputStream in = files.open(CONFIG)) {
            return HfConfig.read(in, where, dirName);
        }
    }

    /**
     * Refuses a checkpoint whose names or shapes differ from {@code layout}'s parameters (each followed by one of
     * {@code suffixes}), naming the first differing tensor in canonical order, then the first unexpected one
     * ({@code rotary_emb.inv_freq} buffers are allowed).
     */
    private static void check(SafetensorsShards.Layout stored, ParameterLayout layout,
                              List<String> suffixes) {
        Map<String, Safetensors.Entry> entries = stored.entries();
        String where = stored.where();
        for (String suffix : suffixes) {
            for (ParameterSpec s : layout.specs()) {
                String name = s.name() + suffix;
                Safetensors.Entry e = entries.get(name);
                if (e == null) {
                    throw new IllegalArgumentException(where + ": tensor " + name + " " + Arrays.toString(s.shape())
                            + " that the config needs is missing (first difference in canonical order)");
                }
                if (!Arrays.equals(e.shape(), s.shape())) {
                    throw new IllegalArgumentException(where + ": tensor " + name + " has shape "
                            + Arrays.toString(e.shape()) + " but the config needs " + Arrays.toString(s.shape()));
                }
            }
        }
        for (String name : entries.keySet()) {
            if (!expected(name, layout, suffixes) && !name.endsWith("rotary_emb.inv_freq")) {
                throw new IllegalArgumentException(where + ": tensor " + name
                        + " is not part of the model the config describes (first unexpected tensor)");
            }
        }
    }

    /** Whether {@code name} is a parameter name followed by one of the file's suffixes. */
    private static boolean expected(String name, ParameterLayout layout, List<String> fileSuffixes) {
        for (String sfx : fileSuffixes) {
            if (name.endsWith(sfx) && layout.contains(name.substring(0, name.length() - sfx.length()))) {
                return true;
            }
        }
        return false;
    }
}
