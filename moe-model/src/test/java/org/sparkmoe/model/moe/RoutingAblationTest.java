package org.sparkmoe.model.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.ParameterLayout;
import org.sparkmoe.model.testing.CorpusBytes;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.train.EvalMetrics;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Routing ablations (the paper's specialisation analyses) on the real engine, CPU backend: the trained routing
 * expressed as an ablation changes nothing; disabling a share of each token's top experts, fewer or more routed
 * experts and no shared expert are checked against a naive double-precision MoE layer computed here from the
 * model's own weights (softmax router, ranking, SwiGLU experts, gate-weighted sum).
 *
 * <p>Legend: R tokens, D width, E routed experts, I expert width, Is shared width.
 */
class RoutingAblationTest {

    /** tiny (8 routed experts, top-2, one shared) on byte ids, with weights large enough to route decisively. */
    static final ModelConfig TINY = TestConfigs.preset("tiny", "vocab_size=256", "init_std=0.1");
    static final int BATCH = 4;
    static final int SEQ = 33;

    static TrainConfig train(int microBatch) {
        return new TrainConfig(1e-2, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, microBatch);
    }

    @Test
    void theTrainedRoutingAsAnAblationChangesNothingAndTrainingIsUntouched() {
        int[] tokens = CorpusBytes.batch("en_gutenberg.jsonl", BATCH, SEQ);
        try (TrainingEngine engine = TrainingEngine.create(TINY, train(2), new CpuBackend(1), 7);
             TrainingEngine fresh = TrainingEngine.create(TINY, train(2), new CpuBackend(1), 7)) {
            MoeLayer moe = engine.model().moeLayers().getFirst();
            int rows = 2 * (SEQ - 1);
            EvalMetrics plain = engine.evaluate(tokens, BATCH, SEQ);
            int[] plainChoices = moe.expertChoices(rows);
            EvalMetrics baseline = engine.evaluate(tokens, BATCH, SEQ, RoutingAblation.baseline(TINY));
            assertEquals(plain.loss(), baseline.loss(), 0.0);
            assertArrayEquals(plain.sequenceLoss(), baseline.sequenceLoss(), 0.0);
            assertArrayEquals(plainChoices, moe.expertChoices(rows));

            EvalMetrics oneExpert = engine.evaluate(tokens, BATCH, SEQ, new RoutingAblation(0, 1, true));
            assertNotEquals(plain.loss(), oneExpert.loss(), "one routed expert instead of two must change the loss");
            assertEquals(1, moe.lastActivated(), "the last forward activated one expert");

            // Ablated evaluations leave no trace: training continues exactly like an engine that never saw one.
            StepMetrics afterAblation = engine.step(tokens, BATCH, SEQ);
            StepMetrics untouched = fresh.step(tokens, BATCH, SEQ);
            assertEquals(untouched.loss(), afterAblation.loss(), 0.0);
            float[] a = new float[Math.toIntExact(engine.parameterCount())];
            float[] b = new float[Math.toIntExact(fresh.parameterCount())];
            engine.readParameters(a);
            fresh.readParameters(b);
            assertArrayEquals(b, a);
        }
    }

    @Test
    void disablingTheTopShareSkipsEachTokensHighestRankedExpertsOnRealText() {
        int[] tokens = CorpusBytes.batch("en_wikitext.jsonl", BATCH, SEQ);
        int rows = BATCH * (SEQ - 1);
        try (TrainingEngine engine = TrainingEngine.create(TINY, train(BATCH), new CpuBackend(1), 3)) {
            MoeLayer moe = engine.model().moeLayers().getFirst();
            // Activating all 8 experts lists each token's experts by descending routing probability.
            engine.evaluate(tokens, BATCH, SEQ, new RoutingAblation(0, 8, true));
            int[] ranking_RE = moe.expertChoices(rows);
            for (double share : new double[] {1.0 / 16, 2.0 / 16, 3.0 / 16, 4.0 / 16, 3.0 / 8}) {
                RoutingAblation ablation = new RoutingAblation(share, 2, true);
                int disabled = ablation.disabledExperts(8);
                assertEquals((int) Math.floor(share * 8 + 0.5), disabled);
                engine.evaluate(tokens, BATCH, SEQ, ablation);
                int[] chosen_RK = moe.expertChoices(rows);
                for (int r = 0; r < rows; r++) {
                    int[] expected = Arrays.copyOfRange(ranking_RE, r * 8 + disabled, r * 8 + disabled + 2);
                    assertArrayEquals(expected, Arrays.copyOfRange(chosen_RK, r * 2, r * 2 + 2),
                            "token " + r + " with the top " + disabled + " disabled");
                }
            }
            engine.evaluate(tokens, BATCH, SEQ);
            int[] trained_RK = moe.expertChoices(rows);
            for (int r = 0; r < rows; r++) {
                assertArrayEquals(Arrays.copyOfRange(ranking_RE, r * 8, r * 8 + 2),
                        Arrays.copyOfRange(trained_RK, r * 2, r * 2 + 2), "the trained top-2 heads the ranking");
            }
        }
    }

    @ParameterizedTest(name = "norm_topk_prob={0}")
    @ValueSource(booleans = {false, true})
    void theMoeLayerUnderEachAblationMatchesANaiveReference(boolean normTopk) {
        ModelConfig config = TestConfigs.preset("tiny", "vocab_size=256", "init_std=0.3",
                "norm_topk_prob=" + normTopk);
        int d = config.hiddenSize();
        int e = config.nRoutedExperts();
        // One full micro-batch: 64 rows, so K + 1 = 3 experts per token needs two passes over the expert slabs.
        int rows = config.maxSeqLen();
        CpuBackend backend = new CpuBackend(1);
        try (TrainingEngine engine = TrainingEngine.create(config, train(1), backend, 11)) {
            float[] params = new float[Math.toIntExact(engine.parameterCount())];
            engine.readParameters(params);
            Reference reference = new Reference(config, engine.layout(), params);
            SplittableRandom random = new SplittableRandom(5);
            float[] x = new float[rows * d];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) random.nextGaussian();
            }
            Tensor x_RD = backend.allocate("x", DType.F32, x.length);
            Tensor out_RD = backend.allocate("out", DType.F32, x.length);
            Tensor tokens_R = backend.allocate("tokens", DType.I32, rows);
            backend.upload(x, 0, x_RD, 0, x.length);
            MoeLayer moe = engine.model().moeLayers().getFirst();

            moe.forward(x_RD, out_RD, tokens_R, 1, rows, false);
            float[] trained = new float[x.length];
            backend.download(out_RD, 0, trained, 0, trained.length);

            List<RoutingAblation> ablations = List.of(RoutingAblation.baseline(config),
                    new RoutingAblation(0, 1, true), new RoutingAblation(0, 2, false), new RoutingAblation(0, 3, false),
                    new RoutingAblation(1.0 / 16, 2, true), new RoutingAblation(2.0 / 8, 2, true),
                    new RoutingAblation(3.0 / 8, 5, false));
            for (RoutingAblation ablation : ablations) {
                engine.model().setRoutingAblation(ablation);
                moe.forward(x_RD, out_RD, tokens_R, 1, rows, false);
                engine.model().setRoutingAblation(null);
                float[] y = new float[x.length];
                backend.download(out_RD, 0, y, 0, y.length);
                int[] choices = moe.expertChoices(rows);
                Reference.Result expected = reference.forward(x, rows, ablation);
                assertArrayEquals(expected.choices_RK(), choices, "choices under " + ablation);
                double err = relErr(y, expected.y_RD());
                assertTrue(err < 1e-5, String.format(Locale.ROOT, "max rel err %.3g under %s", err, ablation));
                if (ablation.equals(RoutingAblation.baseline(config))) {
                    assertArrayEquals(trained, y, 0f, "the baseline ablation is the trained forward, bit for bit");
                }
            }
            assertEquals(e, reference.experts);
        }
    }

    @Test
    void ablationsThatDoNotFitAndTrainingUnderAnAblationAreRefused() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RoutingAblation(1.0, 2, true))
                .getMessage().contains("[0, 1)"));
        assertThrows(IllegalArgumentException.class, () -> new RoutingAblation(Double.NaN, 2, true));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RoutingAblation(0, 0, true))
                .getMessage().contains("at least 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RoutingAblation(0.5, 5, true)
                .checkFits(TINY)).getMessage().contains("leaves 4"));
        ModelConfig noShared = TestConfigs.preset("tiny", "vocab_size=256", "n_shared_experts=0");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RoutingAblation(0, 2, false)
                .checkFits(noShared)).getMessage().contains("no shared experts"));
        ModelConfig hash = TestConfigs.preset("tiny", "vocab_size=256", "routing=hash", "num_experts_per_tok=1");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RoutingAblation(1.0 / 8, 1, true)
                .checkFits(hash)).getMessage().contains("hash routing"));
        new RoutingAblation(0, 1, false).checkFits(hash);
        ModelConfig dense = TestConfigs.preset("tiny", "vocab_size=256", "routing=dense", "n_routed_experts=0",
                "n_shared_experts=0");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new RoutingAblation(0, 1, true)
                .checkFits(dense)).getMessage().contains("no MoE layers"));

        int[] tokens = CorpusBytes.batch("en_gutenberg.jsonl", 2, SEQ);
        try (TrainingEngine engine = TrainingEngine.create(TINY, train(2), new CpuBackend(1), 1)) {
            engine.model().setRoutingAblation(new RoutingAblation(0, 1, true));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> engine.step(tokens, 2, SEQ));
            assertTrue(e.getMessage().contains("evaluation forwards only"), e.getMessage());
            engine.model().setRoutingAblation(null);
            assertTrue(Double.isFinite(engine.step(tokens, 2, SEQ).loss()));
        }
    }

    static double relErr(float[] ours, double[] ref) {
        double maxRef = 0;
        double maxDiff = 0;
        for (int i = 0; i < ref.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
            maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i]));
        }
        return maxDiff / maxRef;
    }

    /** DeepSeekMoE's MoE layer (paper eqs. 9–11) in plain doubles, with the ablation applied as paper §4.5 says. */
    static final class Reference {

        record Result(double[] y_RD, int[] choices_RK) {}

        final ModelConfig config;
        final int experts;
        final int dim;
        final int width;
        final double[][] router_ED;
        final double[][][] gate_EID;
        final double[][][] up_EID;
        final double[][][] down_EDI;
        final double[][] sharedGate_ID;
        final double[][] sharedUp_ID;
        final double[][] sharedDown_DI;

        Reference(ModelConfig config, ParameterLayout layout, float[] params) {
            this.config = config;
            this.experts = config.nRoutedExperts();
            this.dim = config.hiddenSize();
            this.width = config.moeIntermediateSize();
            String p = "model.layers." + config.firstKDenseReplace() + ".mlp.";
            router_ED = matrix(layout, params, p + "gate.weight", experts, dim);
            gate_EID = new double[experts][][];
            up_EID = new double[experts][][];
            down_EDI = new double[experts][][];
            for (int e = 0; e < experts; e++) {
                gate_EID[e] = matrix(layout, params, p + "experts." + e + ".gate_proj.weight", width, dim);
                up_EID[e] = matrix(layout, params, p + "experts." + e + ".up_proj.weight", width, dim);
                down_EDI[e] = matrix(layout, params, p + "experts." + e + ".down_proj.weight", dim, width);
            }
            int shared = config.sharedIntermediateSize();
            sharedGate_ID = matrix(layout, params, p + "shared_experts.gate_proj.weight", shared, dim);
            sharedUp_ID = matrix(layout, params, p + "shared_experts.up_proj.weight", shared, dim);
            sharedDown_DI = matrix(layout, params, p + "shared_experts.down_proj.weight", dim, shared);
        }

        Result forward(float[] x_RD, int rows, RoutingAblation ablation) {
            int disabled = ablation.disabledExperts(experts);
            int active = ablation.activatedExperts();
            double[] y = new double[rows * dim];
            int[] choices = new int[rows * active];
            for (int r = 0; r < rows; r++) {
                double[] x = new double[dim];
                for (int i = 0; i < dim; i++) {
                    x[i] = x_RD[r * dim + i];
                }
                double[] logits = matVec(router_ED, x);
                double max = Arrays.stream(logits).max().orElseThrow();
                double z = 0;
                for (double l : logits) {
                    z += Math.exp(l - max);
                }
                double[] probs = new double[experts];
                for (int e = 0; e < experts; e++) {
                    probs[e] = Math.exp(logits[e] - max) / z;
                }
                Integer[] order = new Integer[experts];
                for (int e = 0; e < experts; e++) {
                    order[e] = e;
                }
                Arrays.sort(order, (a, b) -> probs[a] != probs[b] ? Double.compare(probs[b], probs[a]) : a - b);
                double chosenSum = 0;
                for (int j = 0; j < active; j++) {
                    chosenSum += probs[order[disabled + j]];
                }
                double[] out = ablation.sharedExperts() ? swiGlu(sharedGate_ID, sharedUp_ID, sharedDown_DI, x)
                        : new double[dim];
                for (int j = 0; j < active; j++) {
                    int e = order[disabled + j];
                    choices[r * active + j] = e;
                    double gate = config.normTopkProb() ? probs[e] / chosenSum : probs[e];
                    double[] expert = swiGlu(gate_EID[e], up_EID[e], down_EDI[e], x);
                    for (int i = 0; i < dim; i++) {
                        out[i] += gate * expert[i];
                    }
                }
                System.arraycopy(out, 0, y, r * dim, dim);
            }
            return new Result(y, choices);
        }

        static double[] swiGlu(double[][] gate_ID, double[][] up_ID, double[][] down_DI, double[] x) {
            double[] g = matVec(gate_ID, x);
            double[] u = matVec(up_ID, x);
            double[] h = new double[g.length];
            for (int i = 0; i < h.length; i++) {
                h[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
            }
            return matVec(down_DI, h);
        }

        static double[] matVec(double[][] w_OI, double[] x) {
            double[] y = new double[w_OI.length];
            for (int o = 0; o < y.length; o++) {
                double s = 0;
                for (int i = 0; i < x.length; i++) {
                    s += w_OI[o][i] * x[i];
                }
                y[o] = s;
            }
            return y;
        }

        static double[][] matrix(ParameterLayout layout, float[] params, String name, int rows, int cols) {
            int offset = (int) layout.get(name).offset();
            assertEquals((long) rows * cols, layout.get(name).size(), name);
            double[][] m = new double[rows][cols];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    m[r][c] = params[offset + r * cols + c];
                }
            }
            return m;
        }
    }
}
