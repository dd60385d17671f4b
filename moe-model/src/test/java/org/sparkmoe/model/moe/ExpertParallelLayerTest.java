package org.sparkmoe.model.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
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
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.decoder.ParameterLayout;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.testing.MoeLayerPass;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.testing.ThreadRanks;

/**
 * The expert-parallel MoE layer on D ranks that are threads of this JVM, talking over the real TCP collective: each
 * rank holds E/D experts and its own tokens, and everything it computes is checked against one MoE layer holding every
 * expert run on the union of the ranks' tokens with the same weights (the whole model's init, drawn by name).
 *
 * <p>The ranks' objective is the mean of their losses, {@code J = (1/D) Σ_r (⟨out_r, G_r⟩ + balance_r)}; the union
 * layer gets {@code dOut = G/D} (exact for D a power of two), so its input gradient times D is each rank's and its
 * parameter gradients are the ranks' reduced ones. Tolerance: relative 2-norm error 1e-5 per tensor (fp32, sums in
 * other orders: the routers' and shared experts' weight gradients are summed per rank, then over the ranks); expert
 * choices are identical and the balance losses agree to 1e-6 relative.
 *
 * <p>Legend: R rows per rank = B·T, D width, E routed experts, K per token.
 */
class ExpertParallelLayerTest {

    static final int BATCH = 2;
    static final int SEQ = 8;
    static final int ROWS = BATCH * SEQ;
    static final long SEED = 7;
    static final double TOLERANCE = 1e-5;

    /** tiny reduced to one MoE layer (8 routed experts top-2, one shared), both balance losses on. */
    static ModelConfig config(int ranks, String... more) {
        List<String> keys = new ArrayList<>(List.of("num_hidden_layers=1", "first_k_dense_replace=0",
                "vocab_size=256", "max_position_embeddings=" + SEQ, "init_std=0.05", "aux_loss_alpha=0.01",
                "device_loss_alpha=0.05", "device_groups=" + ranks));
        keys.addAll(List.of(more));
        return TestConfigs.preset("tiny", keys.toArray(String[]::new));
    }

    /** One rank's rows: inputs, token ids and the output gradient. */
    record Rows(float[] x_RD, int[] tokens_R, float[] g_RD) {

        static Rows random(ModelConfig config, long seed, int rows) {
            SplittableRandom random = new SplittableRandom(seed);
            int d = config.hiddenSize();
            float[] x = new float[rows * d];
            float[] g = new float[rows * d];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) random.nextGaussian();
                g[i] = (float) random.nextGaussian();
            }
            return new Rows(x, random.ints(rows, 0, config.vocabSize()).toArray(), g);
        }

        static Rows union(Rows[] parts, float dOutScale) {
            int n = parts.length;
            float[] x = concat(Arrays.stream(parts).map(Rows::x_RD).toArray(float[][]::new));
            float[] g = concat(Arrays.stream(parts).map(Rows::g_RD).toArray(float[][]::new));
            for (int i = 0; i < g.length; i++) {
                g[i] *= dOutScale;
            }
            int[] tokens = Arrays.stream(parts).flatMapToInt(p -> Arrays.stream(p.tokens_R())).toArray();
            assertEquals(n * parts[0].tokens_R().length, tokens.length);
            return new Rows(x, tokens, g);
        }

        private static float[] concat(float[][] parts) {
            float[] out = new float[Arrays.stream(parts).mapToInt(p -> p.length).sum()];
            int at = 0;
            for (float[] p : parts) {
                System.arraycopy(p, 0, out, at, p.length);
                at += p.length;
            }
            return out;
        }
    }

    /** Every rank's pass of the layer, each rank with its own rows (and whatever {@code weights} sets). */
    static List<MoeLayerPass.Result> ranks(ModelConfig config, Rows[] rows, WeightEdit weights) {
        int size = rows.length;
        return new ThreadRanks(size).run((rank, rendezvous) -> {
            try (CpuBackend backend = new CpuBackend(1);
                 Collective collective = backend.joinCollective(rank, size, rendezvous)) {
                DeepSeekMoeModel model = new DeepSeekMoeModel(config, backend, ROWS, collective);
                model.initialize(SEED);
                weights.apply(model, backend);
                Rows r = rows[rank];
                return MoeLayerPass.run(model, backend, r.x_RD(), r.tokens_R(), r.g_RD(), BATCH, SEQ);
            }
        });
    }

    /** The layer holding every expert, on the union of the ranks' rows, output gradient G/D. */
    static MoeLayerPass.Result union(ModelConfig config, Rows[] rows, WeightEdit weights) {
        Rows all = Rows.union(rows, 1f / rows.length);
        try (CpuBackend backend = new CpuBackend(1)) {
            DeepSeekMoeModel model = new DeepSeekMoeModel(config, backend, rows.length * ROWS);
            model.initialize(SEED);
            weights.apply(model, backend);
            return MoeLayerPass.run(model, backend, all.x_RD(), all.tokens_R(), all.g_RD(), rows.length * BATCH, SEQ);
        }
    }

    /** A change to the model's weights after init, the same on every rank and on the union's model. */
    @FunctionalInterface
    interface WeightEdit {
        void apply(DeepSeekMoeModel model, CpuBackend backend);
    }

    static Rows[] rows(ModelConfig config, int ranks) {
        Rows[] rows = new Rows[ranks];
        for (int r = 0; r < ranks; r++) {
            rows[r] = Rows.random(config, 100 + r, ROWS);
        }
        return rows;
    }

    @ParameterizedTest(name = "D={0}")
    @ValueSource(ints = {2, 4})
    void eachRanksLayerEqualsOneLayerOverTheUnionOfTheirTokens(int size) {
        ModelConfig config = config(size);
        Rows[] rows = rows(config, size);
        List<MoeLayerPass.Result> parts = ranks(config, rows, (m, b) -> { });
        MoeLayerPass.Result whole = union(config, rows, (m, b) -> { });
        assertRanksMatchUnion(config, parts, whole, "D=" + size);
    }

    @Test
    void aRankReceivingNoTokensAndARankSendingNoneWork() {
        int size = 2;
        ModelConfig config = config(size);
        int d = config.hiddenSize();
        int e = config.nRoutedExperts();
        // Every token leans along v; rank 0's experts (0..3) point along v and rank 1's (4..7) against it, so all
        // tokens of both ranks go to rank 0: rank 1's experts receive nothing, rank 0 sends nothing away, and rank 0
        // receives twice a micro-batch's slots, so its expert buffers grow past their first size.
        float[] v = new float[d];
        Arrays.fill(v, 1f / (float) Math.sqrt(d));
        Rows[] rows = rows(config, size);
        for (Rows r : rows) {
            for (int i = 0; i < r.x_RD().length; i++) {
                r.x_RD()[i] = 0.2f * r.x_RD()[i] + 3f * v[i % d];
            }
        }
        WeightEdit leaning = (model, backend) -> {
            String name = "model.layers.0.mlp.gate.weight";
            float[] w = new float[e * d];
            backend.download(model.parameters().value(name), 0, w, 0, w.length);
            for (int x = 0; x < e; x++) {
                for (int i = 0; i < d; i++) {
                    w[x * d + i] += (x < e / 2 ? 2f : -2f) * v[i];
                }
            }
            backend.upload(w, 0, model.parameters().value(name), 0, w.length);
        };
        List<MoeLayerPass.Result> parts = ranks(config, rows, leaning);
        for (MoeLayerPass.Result part : parts) {
            assertTrue(Arrays.stream(part.choices_RK()).allMatch(x -> x < e / 2), "every token chose rank 0's experts");
        }
        for (var g : parts.get(1).grads().entrySet()) {
            if (g.getKey().contains(".experts.")) {
                float[] zeros = new float[g.getValue().length];
                assertArrayEquals(zeros, g.getValue(), g.getKey() + ": rank 1's experts saw no token");
            }
        }
        MoeLayerPass.Result whole = union(config, rows, leaning);
        assertRanksMatchUnion(config, parts, whole, "skewed D=2");
    }

    static void assertRanksMatchUnion(ModelConfig config, List<MoeLayerPass.Result> parts, MoeLayerPass.Result whole,
                                      String what) {
        int size = parts.size();
        int rd = ROWS * config.hiddenSize();
        int rk = ROWS * config.numExpertsPerTok();
        double expertLoss = 0;
        double deviceLoss = 0;
        double entropy = 0;
        double[] worst = new double[3];
        for (int r = 0; r < size; r++) {
            MoeLayerPass.Result part = parts.get(r);
            assertArrayEquals(Arrays.copyOfRange(whole.choices_RK(), r * rk, (r + 1) * rk), part.choices_RK(),
                    what + " rank " + r + ": expert choices");
            worst[0] = Math.max(worst[0], assertClose(what + " rank " + r + " out", part.out_RD(),
                    Arrays.copyOfRange(whole.out_RD(), r * rd, (r + 1) * rd)));
            float[] dx = Arrays.copyOfRange(whole.dx_RD(), r * rd, (r + 1) * rd);
            for (int i = 0; i < dx.length; i++) {
                dx[i] *= size;
            }
            worst[1] = Math.max(worst[1], assertClose(what + " rank " + r + " dx", part.dx_RD(), dx));
            for (var g : part.grads().entrySet()) {
                worst[2] = Math.max(worst[2], assertClose(what + " rank " + r + " " + g.getKey(), g.getValue(),
                        whole.grads().get(g.getKey())));
                if (!g.getKey().contains(".experts.")) {
                    assertArrayEquals(parts.getFirst().grads().get(g.getKey()), g.getValue(),
                            what + ": replicated " + g.getKey() + " is the same on every rank after the all-reduce");
                }
            }
            expertLoss += part.expertLoss() / size;
            deviceLoss += part.deviceLoss() / size;
            entropy += part.entropy() / size;
        }
        ParameterLayout layout = ParameterLayout.of(config);
        for (ParameterSpec s : layout.specs()) {
            if (s.name().contains(".experts.")) {
                long holders = parts.stream().filter(p -> p.grads().containsKey(s.name())).count();
                assertEquals(1, holders, s.name() + " is held by exactly one rank");
            }
        }
        System.out.printf(Locale.ROOT, "%s: worst relative error out %.2e, dx %.2e, gradients %.2e%n", what,
                worst[0], worst[1], worst[2]);
        assertEquals(whole.expertLoss(), expertLoss, 1e-6 * whole.expertLoss(), what + ": expert loss");
        assertEquals(whole.deviceLoss(), deviceLoss, 1e-6 * whole.deviceLoss(), what + ": device loss");
        assertEquals(whole.entropy(), entropy, 1e-6 * whole.entropy(), what + ": router entropy");
    }

    /** Asserts the relative 2-norm error is within {@link #TOLERANCE} and returns it. */
    static double assertClose(String what, float[] actual, float[] expected) {
        assertEquals(expected.length, actual.length, what + ": length");
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < actual.length; i++) {
            assertTrue(Float.isFinite(actual[i]), what + ": element " + i + " is " + actual[i]);
            diff += ((double) actual[i] - expected[i]) * ((double) actual[i] - expected[i]);
            norm += (double) expected[i] * expected[i];
        }
        double error = norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
        assertTrue(error <= TOLERANCE, String.format(Locale.ROOT, "%s: relative error %.3e above %.0e", what, error,
                TOLERANCE));
        return error;
    }

    /**
     * The layer's backward against central differences of J, the ranks' mean loss, per parameter tensor along its
     * gradient and a random direction. A replicated tensor moves on every rank alike, an expert on its owner only;
     * every rank runs every forward. J is evaluated in fp32 by the layer, so the tolerance (3%) is relative to the
     * tensor's gradient norm (as in ModelGradientTest); a step that changes any rank's routing is retried smaller.
     */
    @Test
    void backwardMatchesFiniteDifferencesOfTheRanksMeanLoss() {
        int size = 2;
        ModelConfig config = config(size);
        Rows[] rows = rows(config, size);
        List<double[]> checks = new ThreadRanks(size).run((rank, rendezvous) -> {
            try (CpuBackend backend = new CpuBackend(1);
                 Collective collective = backend.joinCollective(rank, size, rendezvous)) {
                DeepSeekMoeModel model = new DeepSeekMoeModel(config, backend, ROWS, collective);
                model.initialize(SEED);
                Objective objective = new Objective(model, backend, collective, rows[rank]);
                objective.value(null);
                ParameterLayout mine = model.parameters().layout();
                float[] grad = new float[Math.toIntExact(mine.totalElements())];
                backend.download(model.parameters().grads(), 0, grad, 0, grad.length);
                SplittableRandom random = new SplittableRandom(99);
                double worst = 0;
                int checked = 0;
                int skipped = 0;
                for (ParameterSpec spec : ParameterLayout.of(config).specs()) {
                    if (!spec.name().startsWith("model.layers.0.mlp.")) {
                        continue;
                    }
                    boolean held = mine.contains(spec.name());
                    int n = Math.toIntExact(spec.size());
                    int off = held ? (int) mine.get(spec.name()).offset() : 0;
                    double gNorm = 0;
                    for (int i = 0; held && i < n; i++) {
                        gNorm += (double) grad[off + i] * grad[off + i];
                    }
                    gNorm = Math.sqrt(gNorm);
                    for (int dir = 0; dir < 2; dir++) {
                        double[] v = new double[n];
                        double vNorm = 0;
                        for (int i = 0; i < n; i++) {
                            double drawn = random.nextGaussian();  // drawn on every rank, to stay in step
                            v[i] = dir == 0 && held && gNorm > 0 ? grad[off + i] : drawn;
                            vNorm += v[i] * v[i];
                        }
                        vNorm = Math.sqrt(vNorm);
                        double analytic = 0;
                        for (int i = 0; i < n; i++) {
                            v[i] /= vNorm;
                            analytic += held ? grad[off + i] * v[i] : 0;
                        }
                        double numeric = Double.NaN;
                        for (double h = 1e-2; h >= 1e-4 && Double.isNaN(numeric); h /= 3) {
                            Shift shift = held ? new Shift(mine.get(spec.name()), v, h) : null;
                            double plus = objective.value(shift);
                            boolean same = !objective.routesChanged();
                            double minus = objective.value(held ? shift.negated() : null);
                            same &= !objective.routesChanged();
                            if (same) {
                                numeric = (plus - minus) / (2 * h);
                            }
                        }
                        if (!held) {
                            continue;
                        }
                        if (Double.isNaN(numeric)) {
                            skipped++;
                            continue;
                        }
                        checked++;
                        worst = Math.max(worst, Math.abs(numeric - analytic) / (gNorm + 1e-3));
                    }
                }
                System.out.printf(Locale.ROOT, "rank %d: worst relative error %.3e over %d directions, %d skipped%n",
                        rank, worst, checked, skipped);
                return new double[] {worst, checked, skipped};
            }
        });
        for (double[] c : checks) {
            assertTrue(c[1] > 0 && c[2] <= c[1] / 10, "too many directions skipped: " + Arrays.toString(c));
            assertTrue(c[0] < 3e-2, "worst relative error " + c[0]);
        }
    }

    /** A parameter tensor moved by {@code h·v}. */
    record Shift(ParameterSpec spec, double[] v, double h) {
        Shift negated() {
            return new Shift(spec, v, -h);
        }
    }

    /**
     * J, the mean over the ranks of {@code ⟨out, G⟩ + balance losses}, in double: each rank's loss travels as an fp32
     * pair (value, remainder) with a flag saying whether its routing differs from its first evaluation's.
     */
    static final class Objective {

        final DeepSeekMoeModel model;
        final CpuBackend backend;
        final Collective collective;
        final Rows rows;
        final Tensor mine_3;
        final Tensor all_3W;
        int[] routes;
        boolean changedOnAnyRank;

        Objective(DeepSeekMoeModel model, CpuBackend backend, Collective collective, Rows rows) {
            this.model = model;
            this.backend = backend;
            this.collective = collective;
            this.rows = rows;
            this.mine_3 = backend.allocate("loss", DType.F32, 3);
            this.all_3W = backend.allocate("losses", DType.F32, 3L * collective.size());
        }

        double value(Shift shift) {
            float[] saved = null;
            if (shift != null) {
                int n = Math.toIntExact(shift.spec().size());
                saved = new float[n];
                backend.download(model.parameters().values(), shift.spec().offset(), saved, 0, n);
                float[] moved = new float[n];
                for (int i = 0; i < n; i++) {
                    moved[i] = (float) (saved[i] + shift.h() * shift.v()[i]);
                }
                backend.upload(moved, 0, model.parameters().values(), shift.spec().offset(), n);
            }
            MoeLayerPass.Result pass = MoeLayerPass.run(model, backend, rows.x_RD(), rows.tokens_R(), rows.g_RD(),
                    BATCH, SEQ);
            if (shift != null) {
                backend.upload(saved, 0, model.parameters().values(), shift.spec().offset(), saved.length);
            }
            double loss = (double) pass.expertLoss() + pass.deviceLoss();
            for (int i = 0; i < pass.out_RD().length; i++) {
                loss += (double) pass.out_RD()[i] * rows.g_RD()[i];
            }
            boolean changed = routes != null && !Arrays.equals(routes, pass.choices_RK());
            if (routes == null) {
                routes = pass.choices_RK();
            }
            float hi = (float) loss;
            backend.upload(new float[] {hi, (float) (loss - hi), changed ? 1 : 0}, 0, mine_3, 0, 3);
            collective.allGather(mine_3, all_3W);
            float[] all = new float[3 * collective.size()];
            backend.download(all_3W, 0, all, 0, all.length);
            double sum = 0;
            changedOnAnyRank = false;
            for (int r = 0; r < collective.size(); r++) {
                sum += (double) all[3 * r] + all[3 * r + 1];
                changedOnAnyRank |= all[3 * r + 2] != 0;
            }
            return sum / collective.size();
        }

        /** Whether some rank's routing in the last {@link #value} differed from its first evaluation's. */
        boolean routesChanged() {
            return changedOnAnyRank;
        }
    }

    /**
     * The device-level balance loss each rank reports equals the paper's eqs. 15–17 computed here in double from the
     * same routing (the layer's expert choices, softmax probabilities recomputed from the router weights), with the
     * groups read from where the experts actually live: group d = the experts in rank d's parameter layout. Per
     * sequence (seq_aux, the paper) and per micro-batch.
     */
    @ParameterizedTest(name = "seq_aux={0}")
    @ValueSource(booleans = {true, false})
    void theDeviceLossIsThePapersFormulaOverTheExpertsEachRankHolds(boolean seqAux) {
        int size = 4;
        ModelConfig config = config(size, "seq_aux=" + seqAux);
        Rows[] rows = rows(config, size);
        record Seen(MoeLayerPass.Result pass, float[] router_ED, int[] held) {
        }
        List<Seen> seen = new ThreadRanks(size).run((rank, rendezvous) -> {
            try (CpuBackend backend = new CpuBackend(1);
                 Collective collective = backend.joinCollective(rank, size, rendezvous)) {
                DeepSeekMoeModel model = new DeepSeekMoeModel(config, backend, ROWS, collective);
                model.initialize(SEED);
                Rows r = rows[rank];
                MoeLayerPass.Result pass = MoeLayerPass.run(model, backend, r.x_RD(), r.tokens_R(), r.g_RD(), BATCH,
                        SEQ);
                String gate = "model.layers.0.mlp.gate.weight";
                float[] w = new float[Math.toIntExact(model.parameters().layout().get(gate).size())];
                backend.download(model.parameters().value(gate), 0, w, 0, w.length);
                int[] held = model.parameters().layout().specs().stream().map(ParameterSpec::name)
                        .filter(n -> n.contains(".experts.") && n.endsWith(".gate_proj.weight"))
                        .mapToInt(n -> Integer.parseInt(n.split("\\.")[5])).toArray();
                return new Seen(pass, w, held);
            }
        });
        int e = config.nRoutedExperts();
        int[] group = new int[e];
        Arrays.fill(group, -1);
        for (int d = 0; d < size; d++) {
            for (int x : seen.get(d).held()) {
                assertEquals(-1, group[x], "expert " + x + " held twice");
                group[x] = d;
            }
        }
        for (int r = 0; r < size; r++) {
            double[] naive = naiveBalanceLosses(config, rows[r].x_RD(), seen.get(r).router_ED(),
                    seen.get(r).pass().choices_RK(), group, size, seqAux);
            System.out.printf(Locale.ROOT, "rank %d: expert loss %.8f (naive %.8f), device loss %.8f (naive %.8f)%n",
                    r, seen.get(r).pass().expertLoss(), naive[0], seen.get(r).pass().deviceLoss(), naive[1]);
            assertEquals(naive[0], seen.get(r).pass().expertLoss(), 1e-6 * naive[0], "rank " + r + " expert loss");
            assertEquals(naive[1], seen.get(r).pass().deviceLoss(), 1e-6 * naive[1], "rank " + r + " device loss");
        }
    }

    /**
     * Eqs. 12–17 in double: per group of T tokens (a sequence, or the whole batch), {@code f_i = E/(K·T) Σ_t 1(t
     * chose i)}, {@code P_i = (1/T) Σ_t s_{i,t}}; device d: {@code f'_d = mean_{i∈E_d} f_i}, {@code P'_d =
     * Σ_{i∈E_d} P_i}; losses α1 Σ f_i P_i and α2 Σ f'_d P'_d, averaged over the groups.
     */
    static double[] naiveBalanceLosses(ModelConfig config, float[] x_RD, float[] w_ED, int[] choices_RK, int[] group,
                                       int devices, boolean perSequence) {
        int e = config.nRoutedExperts();
        int k = config.numExpertsPerTok();
        int d = config.hiddenSize();
        int tokens = perSequence ? SEQ : ROWS;
        int groups = ROWS / tokens;
        double expert = 0;
        double device = 0;
        for (int g = 0; g < groups; g++) {
            double[] f = new double[e];
            double[] p = new double[e];
            for (int t = g * tokens; t < (g + 1) * tokens; t++) {
                double[] logits = new double[e];
                double max = Double.NEGATIVE_INFINITY;
                for (int i = 0; i < e; i++) {
                    for (int c = 0; c < d; c++) {
                        logits[i] += (double) x_RD[t * d + c] * w_ED[i * d + c];
                    }
                    max = Math.max(max, logits[i]);
                }
                double z = 0;
                for (int i = 0; i < e; i++) {
                    z += Math.exp(logits[i] - max);
                }
                for (int i = 0; i < e; i++) {
                    p[i] += Math.exp(logits[i] - max) / z / tokens;
                }
                for (int j = 0; j < k; j++) {
                    f[choices_RK[t * k + j]] += (double) e / ((double) k * tokens);
                }
            }
            for (int i = 0; i < e; i++) {
                expert += config.auxLossAlpha() * f[i] * p[i];
            }
            for (int dev = 0; dev < devices; dev++) {
                double fSum = 0;
                double pSum = 0;
                int members = 0;
                for (int i = 0; i < e; i++) {
                    if (group[i] == dev) {
                        fSum += f[i];
                        pSum += p[i];
                        members++;
                    }
                }
                device += config.deviceLossAlpha() * (fSum / members) * pSum;
            }
        }
        return new double[] {expert / groups, device / groups};
    }
}
