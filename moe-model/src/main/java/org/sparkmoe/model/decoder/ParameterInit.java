package org.sparkmoe.model.decoder;

import java.util.SplittableRandom;
import org.sparkmoe.model.config.ModelConfig;

/**
 * The paper's initialisation as a stream over the canonical {@link ParameterLayout}: every matrix ~ N(0, initStd²),
 * norm weights 1, from one {@link SplittableRandom} in canonical order. The engine uploads it to its backend and the
 * Spark trainer's driver fills a plain vector from it (it holds no engine), so both agree bit for bit.
 */
public final class ParameterInit {

    /** Receives each parameter's initial values, in canonical order. */
    @FunctionalInterface
    public interface Sink {
        void accept(ParameterSpec spec, float[] values);
    }

    private ParameterInit() {
    }

    /** Generates the initial values of every parameter of {@code layout} from {@code seed}, one tensor at a time. */
    public static void generate(ParameterLayout layout, double initStd, long seed, Sink sink) {
        SplittableRandom random = new SplittableRandom(seed);
        for (ParameterSpec spec : layout.specs()) {
            float[] values = new float[Math.toIntExact(spec.size())];
            for (int i = 0; i < values.length; i++) {
                values[i] = spec.decay() ? (float) (random.nextGaussian() * initStd) : 1f;
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
