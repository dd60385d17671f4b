package org.sparkmoe.model.decoder;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.testing.TestConfigs;

/**
 * The whole model's hand-written gradient (CE + balance losses) against central finite differences of the
 * objective, per parameter tensor, along the gradient's own direction and along a random direction. The
 * objective is evaluated in fp32 by the model itself, so the tolerance (3%) is relative to the tensor's gradient
 * norm; a step that changes any top-K choice is not a valid difference and is retried smaller. The exact per-op
 * checks in float64 are in CpuOpGradientTest.
 */
class ModelGradientTest {

    static ModelConfig variant(String name) {
        String[] common = {"init_std=0.05", "vocab_size=64", "max_position_embeddings=16"};
        return switch (name) {
            case "deepseekmoe" -> TestConfigs.preset("tiny", common);
            case "renormalised-batch-aux-device" -> TestConfigs.preset("tiny", concat(common, "norm_topk_prob=true",
                    "seq_aux=false", "device_loss_alpha=0.05", "device_groups=2", "aux_loss_alpha=0.1"));
            case "switch-no-shared" -> TestConfigs.preset("tiny", concat(common, "n_shared_experts=0",
                    "num_experts_per_tok=1", "first_k_dense_replace=0"));
            case "renorm" -> TestConfigs.preset("tiny", concat(common, "norm_topk_prob=true"));
            case "batchaux" -> TestConfigs.preset("tiny", concat(common, "seq_aux=false"));
            case "device" -> TestConfigs.preset("tiny", concat(common, "device_loss_alpha=0.05", "device_groups=2"));
            case "noaux" -> TestConfigs.preset("tiny", concat(common, "aux_loss_alpha=0"));
            case "hash" -> TestConfigs.preset("tiny", concat(common, "routing=hash", "num_experts_per_tok=1"));
            case "dense" -> TestConfigs.preset("tiny", concat(common, "routing=dense", "n_routed_experts=0",
                    "n_shared_experts=0"));
            default -> throw new IllegalArgumentException(name);
        };
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"renorm", "batchaux", "device", "noaux", "deepseekmoe", "renormalised-batch-aux-device", "switch-no-shared", "hash", "dense"})
    void gradientMatchesFiniteDifferences(String variantName) {
        ModelConfig config = variant(variantName);
        int batch = 2;
        int seqLen = 8;
        try (CpuBackend backend = new CpuBackend(2)) {
            DeepSeekMoeModel model = new DeepSeekMoeModel(config, backend, batch * seqLen);
            model.initialize(7);
            int[] tokens = new int[batch * (seqLen + 1)];
            SplittableRandom random = new SplittableRandom(11);
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = random.nextInt(config.vocabSize());
            }
            tokens[5] = -1;
            Parameters params = model.parameters();
            int n = (int) params.layout().totalElements();
            float[] theta = new float[n];
            backend.download(params.values(), 0, theta, 0, n);
            float[] grad = new float[n];
            objective(model, backend, tokens, batch, seqLen);
            backend.download(params.grads(), 0, grad, 0, n);

            int[] baseRoutes = routes(model, batch * seqLen);
            int checked = 0;
            int skipped = 0;
            double worst = 0;
            String worstName = "";
            for (ParameterSpec spec : params.layout().specs()) {
                int off = (int) spec.offset();
                int size = (int) spec.size();
                double gNorm = 0;
                for (int i = 0; i < size; i++) {
                    gNorm += (double) grad[off + i] * grad[off + i];
                }
                gNorm = Math.sqrt(gNorm);
                for (int dir = 0; dir < 2; dir++) {
                    double[] v = new double[size];
                    double vNorm = 0;
                    for (int i = 0; i < size; i++) {
                        v[i] = dir == 0 && gNorm > 0 ? grad[off + i] : random.nextGaussian();
                        vNorm += v[i] * v[i];
                    }
                    vNorm = Math.sqrt(vNorm);
                    double analytic = 0;
                    for (int i = 0; i < size; i++) {
                        v[i] /= vNorm;
                        analytic += grad[off + i] * v[i];
                    }
                    double numeric = Double.NaN;
                    for (double h = 1e-2; h >= 1e-4 && Double.isNaN(numeric); h /= 3) {
                        double plus = shifted(model, backend, theta, spec, v, h, tokens, batch, seqLen);
                        boolean sameRoutes = java.util.Arrays.equals(baseRoutes, routes(model, batch * seqLen));
                        double minus = shifted(model, backend, theta, spec, v, -h, tokens, batch, seqLen);
                        sameRoutes &= java.util.Arrays.equals(baseRoutes, routes(model, batch * seqLen));
                        if (sameRoutes) {
                            numeric = (plus - minus) / (2 * h);
                        }
                    }
                    if (Double.isNaN(numeric)) {
                        skipped++;
                        continue;
                    }
                    checked++;
                    double err = Math.abs(numeric - analytic) / (gNorm + 1e-3);
                    if (err > worst) {
                        worst = err;
                        worstName = spec.name() + " dir " + dir + ": analytic " + analytic + " numeric " + numeric
                                + " |g| " + gNorm;
                    }
                }
            }
            System.out.println(variantName + ": worst relative error " + worst + " at " + worstName + "; checked "
                    + checked + " directions, skipped " + skipped + " where every step changed the routing");
            assertTrue(skipped <= checked / 10, variantName + ": too many directions skipped: " + skipped);
            assertTrue(worst < 3e-2, variantName + ": worst " + worst + " at " + worstName);
        }
    }

    private static double shifted(DeepSeekMoeModel model, CpuBackend backend, float[] theta, ParameterSpec spec,
                                  double[] v, double h, int[] tokens, int batch, int seqLen) {
        float[] moved = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            moved[i] = (float) (theta[(int) spec.offset() + i] + h * v[i]);
        }
        backend.upload(moved, 0, model.parameters().values(), spec.offset(), moved.length);
        double value = objective(model, backend, tokens, batch, seqLen);
        backend.upload(theta, (int) spec.offset(), model.parameters().values(), spec.offset(), moved.length);
        return value;
    }

    /** Every MoE layer's expert choices of the last forward, concatenated. */
    static int[] routes(DeepSeekMoeModel model, int rows) {
        return model.moeLayers().stream().flatMapToInt(m -> java.util.Arrays.stream(m.expertChoices(rows)))
                .toArray();
    }

    /** CE mean + balance losses; leaves the gradient in the gradient arena. */
    static double objective(DeepSeekMoeModel model, CpuBackend backend, int[] tokens, int batch, int seqLen) {
        backend.fill(model.parameters().grads(), 0f);
        int valid = model.loadBatch(tokens, 0, batch, seqLen + 1);
        model.forward(batch, seqLen, 1f / valid, 1f, true);
        model.backward(batch, seqLen);
        float[] s = model.readScalars();
        double total = (double) s[0] / valid;
        for (int j = 0; j < model.moeLayers().size(); j++) {
            total += s[1 + 3 * j] + s[2 + 3 * j];
        }
        return total;
    }
}
