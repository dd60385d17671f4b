package org.sparkmoe.model.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
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
import org.sparkmoe.model.decoder.Parameters;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Checkpoint directories: {@code config.json} (HF style), {@code model.safetensors} (DeepSeekMoE 16B tensor names,
 * fp32 or bf16) and, for training continuation, {@code optimizer.safetensors} (AdamW m and v as
 * {@code <name>.exp_avg} / {@code <name>.exp_avg_sq}, fp32, with the step counters in its metadata). Saving then
 * loading an fp32 checkpoint continues training bit-identically.
 *
 * <p>A checkpoint is always the whole model. The ranks of an expert-parallel group save together: rank 0 gathers
 * every rank's expert blocks by name and writes the directory; loading, each rank reads the replicated tensors and its
 * own experts by name from the same files (docs/expert-parallel.md).
 */
public final class Checkpoints {

    public static final String CONFIG = "config.json";
    public static final String MODEL = "model.safetensors";
    public static final String OPTIMIZER = "optimizer.safetensors";
    private static final List<String> MOMENTS = List.of(".exp_avg", ".exp_avg_sq");

    private Checkpoints() {
    }

    /**
     * Saves the engine's model (in {@code dtype}) and, always in fp32, its optimiser state. Under expert parallelism
     * every rank of the group calls it with the same {@code dir}, between steps; rank 0 writes the whole model and the
     * others write nothing.
     */
    public static void save(TrainingEngine engine, Path dir, Safetensors.Dtype dtype) throws IOException {
        int n = engine.parameterCount();
        float[] params = new float[n];
        engine.readParameters(params);
        float[] state = new float[engine.optimizerStateSize()];
        engine.readOptimizerState(state);
        if (engine.expertPlacement() != null) {
            DeepSeekMoeModel model = engine.model();
            params = model.gatherWhole(params);
            float[] m = model.gatherWhole(Arrays.copyOfRange(state, 0, n));
            float[] v = model.gatherWhole(Arrays.copyOfRange(state, n, 2 * n));
            if (params == null) {
                return;
            }
            state = Arrays.copyOf(m, 2 * m.length);
            System.arraycopy(v, 0, state, m.length, v.length);
        }
        saveModel(engine.modelConfig(), params, dir, dtype);
        ParameterLayout whole = ParameterLayout.of(engine.modelConfig());
        int total = params.length;
        List<Safetensors.Source> moments = new ArrayList<>();
        for (ParameterSpec s : whole.specs()) {
            moments.add(new Safetensors.Source(s.name() + ".exp_avg", s.shape(), state, (int) s.offset()));
        }
        for (ParameterSpec s : whole.specs()) {
            moments.add(new Safetensors.Source(s.name() + ".exp_avg_sq", s.shape(), state, total + (int) s.offset()));
        }
        Safetensors.write(dir.resolve(OPTIMIZER), moments, Safetensors.Dtype.F32,
                Map.of("step", Long.toString(engine.stepCount()), "skipped_steps",
                        Long.toString(engine.skippedSteps())));
    }

    /**
     * Saves a model given as its flat parameter vector ({@link ParameterLayout} order of {@code config}) without an
     * engine: {@code config.json} and {@code model.safetensors} (in {@code dtype}), no optimiser state.
     */
    public static void saveModel(ModelConfig config, float[] params, Path dir, Safetensors.Dtype dtype)
            throws IOException {
        ParameterLayout layout = ParameterLayout.of(config);
        if (params.length != layout.totalElements()) {
            throw new IllegalArgumentException("parameter vector has " + params.length + " values; model "
                    + config.name() + " has " + layout.totalElements());
        }
        Files.createDirectories(dir);
        HfConfig.write(config, dir.resolve(CONFIG));
        List<Safetensors.Source> weights = new ArrayList<>();
        for (ParameterSpec s : layout.specs()) {
            weights.add(new Safetensors.Source(s.name(), s.shape(), params, (int) s.offset()));
        }
        Safetensors.write(dir.resolve(MODEL), weights, dtype, Map.of("format", "pt"));
    }

    /**
     * Loads a checkpoint into a new engine: the config from {@code config.json}, the weights from
     * {@code model.safetensors} (ours or any in these names), the optimiser state if present.
     */
    public static TrainingEngine load(Path dir, TrainConfig trainConfig, Backend backend) throws IOException {
        return load(dir, trainConfig, backend, null);
    }

    /**
     * {@link #load(Path, TrainConfig, Backend)} into rank {@code expertParallel.rank()} of an expert-parallel group
     * ({@link TrainingEngine#create(ModelConfig, TrainConfig, Backend, long, Collective)}): the replicated tensors and
     * the rank's experts, read by name; every rank of the group calls it. Null: the whole model.
     */
    public static TrainingEngine load(Path dir, TrainConfig trainConfig, Backend backend, Collective expertParallel)
            throws IOException {
        ModelConfig config = HfConfig.read(dir.resolve(CONFIG));
        TrainingEngine engine = TrainingEngine.create(config, trainConfig, backend, 0, expertParallel);
        ParameterLayout whole = ParameterLayout.of(config);
        float[] params = readTensors(dir.resolve(MODEL), engine.layout(), whole, "", List.of(""));
        engine.writeParameters(params);
        Path opt = dir.resolve(OPTIMIZER);
        if (Files.exists(opt)) {
            float[] m = readTensors(opt, engine.layout(), whole, ".exp_avg", MOMENTS);
            float[] v = readTensors(opt, engine.layout(), whole, ".exp_avg_sq", MOMENTS);
            float[] state = Arrays.copyOf(m, 2 * m.length);
            System.arraycopy(v, 0, state, m.length, v.length);
            engine.writeOptimizerState(state);
            Map<String, String> meta = Safetensors.readHeader(opt).metadata();
            engine.setStepCount(Long.parseLong(meta.getOrDefault("step", "0")));
        }
        return engine;
    }

    /** Reads the model config of a checkpoint directory. */
    public static ModelConfig readConfig(Path dir) throws IOException {
        return HfConfig.read(dir.resolve(CONFIG));
    }

    /**
     * Reads every parameter of {@code layout} (name + suffix) from {@code file} into a flat vector, refusing a
     * file whose names or shapes differ, naming the first differing tensor in canonical order. The file may hold
     * only parameter names followed by one of {@code fileSuffixes} (and {@code rotary_emb.inv_freq} buffers).
     */
    public static float[] readTensors(Path file, ParameterLayout layout, String suffix, List<String> fileSuffixes)
            throws IOException {
        return readTensors(file, layout, layout, suffix, fileSuffixes);
    }

    /**
     * {@link #readTensors(Path, ParameterLayout, String, List)} for part of a model ({@code layout}, e.g. an
     * expert-parallel rank's): the file is checked against the whole model's {@code whole}, and the tensors of
     * {@code layout} are read.
     */
    public static float[] readTensors(Path file, ParameterLayout layout, ParameterLayout whole, String suffix,
                                      List<String> fileSuffixes) throws IOException {
        float[] out = new float[Math.toIntExact(layout.totalElements())];
        forEachTensor(file, layout, whole, suffix, fileSuffixes,
                (spec, header, entry) -> Safetensors.read(file, header, entry, out, (int) spec.offset()));
        return out;
    }

    /**
     * Loads a checkpoint's model into a new forward-only model for generation ({@link DeepSeekMoeModel#forInference}:
     * no gradients, no optimiser state, activations for {@code maxRows} tokens); the optimiser state, if any, is not
     * read. Weights are uploaded one tensor at a time.
     */
    public static DeepSeekMoeModel loadForInference(Path dir, Backend backend, int maxRows) throws IOException {
        ModelConfig config = HfConfig.read(dir.resolve(CONFIG));
        DeepSeekMoeModel model = DeepSeekMoeModel.forInference(config, backend, maxRows);
        Parameters params = model.parameters();
        Path file = dir.resolve(MODEL);
        forEachTensor(file, params.layout(), params.layout(), "", List.of(""), (spec, header, entry) -> {
            float[] values = new float[Math.toIntExact(spec.size())];
            Safetensors.read(file, header, entry, values, 0);
            backend.upload(values, 0, params.values(), spec.offset(), values.length);
        });
        return model;
    }

    /** What is done with each parameter's tensor once its name and shape have been checked. */
    @FunctionalInterface
    private interface TensorReader {
        void read(ParameterSpec spec, Safetensors.Header header, Safetensors.Entry entry) throws IOException;
    }

    /**
     * Checks {@code file} against {@code layout} as {@link #readTensors} describes (refusing tensors outside
     * {@code whole}) and hands each parameter of {@code layout} to {@code reader}, in layout order.
     */
    private static void forEachTensor(Path file, ParameterLayout layout, ParameterLayout whole, String suffix,
                                      List<String> fileSuffixes, TensorReader reader) throws IOException {
        Safetensors.Header header = Safetensors.readHeader(file);
        for (ParameterSpec s : layout.specs()) {
            String name = s.name() + suffix;
            Safetensors.Entry e = header.entries().get(name);
            if (e == null) {
                throw new IllegalArgumentException(file + ": tensor " + name + " " + Arrays.toString(s.shape())
                        + " that the config needs is missing (first difference in canonical order)");
            }
            if (!Arrays.equals(e.shape(), s.shape())) {
                throw new IllegalArgumentException(file + ": tensor " + name + " has shape "
                        + Arrays.toString(e.shape()) + " but the config needs " + Arrays.toString(s.shape()));
            }
            reader.read(s, header, e);
        }
        for (String name : header.entries().keySet()) {
            if (!expected(name, whole, fileSuffixes) && !name.endsWith("rotary_emb.inv_freq")) {
                throw new IllegalArgumentException(file + ": tensor " + name
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
