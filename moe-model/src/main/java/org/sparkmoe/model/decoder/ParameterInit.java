package org.sparkmoe.model.decoder;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.sparkmoe.model.config.ModelConfig;

/**
 * The paper's initialisation over the canonical {@link ParameterLayout}: every matrix ~ N(0, initStd²), norm weights
 * 1. Each block of {@link #BLOCK} values has its own generator, split from one {@link SplittableRandom} of the seed in
 * canonical order, so the values depend on the seed alone while the blocks are drawn on all cores (a 16B model's 16.4
 * billion normals take minutes on one core). The engine uploads them to its backend and the Spark trainer's driver
 * fills a plain vector from them (it holds no engine), so both agree bit for bit.
 */
public final class ParameterInit {

    /** Receives each parameter's initial values, in canonical order. */
    @FunctionalInterface
    public interface Sink {
        void accept(ParameterSpec spec, float[] values);
    }

    private ParameterInit() {
    }

    /** Values per generator: small enough to spread a tensor over the cores, large enough to amortise a split. */
    static final int BLOCK = 1 << 20;

    /** Generates the initial values of every parameter of {@code layout} from {@code seed}, one tensor at a time. */
    public static void generate(ParameterLayout layout, double initStd, long seed, Sink sink) {
        SplittableRandom root = new SplittableRandom(seed);
        for (ParameterSpec spec : layout.specs()) {
            float[] values = new float[Math.toIntExact(spec.size())];
            if (!spec.decay()) {
                java.util.Arrays.fill(values, 1f);
            } else {
                int blocks = (values.length + BLOCK - 1) / BLOCK;
                List<SplittableRandom> generators = new ArrayList<>(blocks);
                for (int b = 0; b < blocks; b++) {
                    generators.add(root.split());
                }
                IntStream.range(0, blocks).parallel().forEach(b -> {
                    SplittableRandom random = generators.get(b);
                    int end = Math.min(values.length, (b + 1) * BLOCK);
                    for (int i = b * BLOCK; i < end; i++) {
                        values[i] = (float) (random.nextGaussian() * initStd);
                    }
                });
            }
            sink.accept(spec, values);
        }
    }

    /** The whole initial parameter vector of {@code config} (what {@code TrainingEngine.create} starts from). */
    public static float[] initialValues(ModelConfig config, long seed) {
        ParameterLayout layout = ParameterLayout.of(config);
        float[] params = new float[Math.toIntExact(layout.totalElements())];
        generate(layout, config.initStd(), seed,
                (spec, values) -> System.arraycopy(values, 0, params, (int) spec.offset(), values.length));
        return params;
    }
}
