package org.sparkmoe.model.moe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GradientWrites;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.ffn.FfnScratch;
import org.sparkmoe.model.ffn.SwiGluFfn;
import org.sparkmoe.model.testing.InterceptedBackend;

/**
 * The routed experts keep neither their gathered inputs xs nor h = SwiGLU(g, u) for backward: backward gathers xs
 * again from the layer's input and recomputes h. Their output and every gradient are bit for bit those of the
 * backward over kept xs and h (the ops below, on buffers of their own), for two layers sharing the buffers as a model's
 * do (forwards in order, backwards in reverse), routed in backend memory and on the host. The dense SwiGLU FFNs (dense
 * layers, shared experts) recompute their h the same way, into one buffer sized for the widest of them.
 *
 * <p>Legend: R tokens, K experts per token, S = R·K slots, E experts, D width, I expert width; an FFN's width F.
 */
class RecomputedActivationsTest {

    static final int ROWS = 24;
    static final int K = 3;
    static final int E = 6;
    static final int D = 16;
    static final int I = 12;
    static final int S = ROWS * K;

    /** One layer's inputs (host copies) and tensors. */
    record Layer(float[] x, int[] idx, float[] weight, float[] dOut, float[][] w, Tensor[] weights, Tensor[] grads) {

        static Layer random(Backend backend, long seed) {
            SplittableRandom random = new SplittableRandom(seed);
            int[] idx = new int[S];
            for (int r = 0; r < ROWS; r++) {
                int[] order = random.ints(0, E).distinct().limit(K).toArray();
                System.arraycopy(order, 0, idx, r * K, K);
            }
            float[][] w = {gaussian(random, E * I * D, 0.3), gaussian(random, E * I * D, 0.3),
                gaussian(random, E * D * I, 0.3)};
            Tensor[] weights = uploadAll(backend, w);
            Tensor[] grads = zeroGradients(backend, w);
            float[] weight = new float[S];
            for (int i = 0; i < S; i++) {
                weight[i] = (float) random.nextDouble(0.05, 1);
            }
            return new Layer(gaussian(random, ROWS * D, 1), idx, weight, gaussian(random, ROWS * D, 1), w, weights,
                    grads);
        }
    }

    /**
     * The layer's output, input gradient, gate weights' gradient (empty for a dense FFN) and gate, up, down weight
     * gradients.
     */
    record Result(float[] out, float[] dx, float[] dWeight, float[][] dW) {

        void assertSame(Result expected, String what) {
            assertArrayEquals(expected.out, out, what + ": output");
            assertArrayEquals(expected.dx, dx, what + ": input gradient");
            assertArrayEquals(expected.dWeight, dWeight, what + ": gate weights' gradient");
            String[] names = {"gate", "up", "down"};
            for (int p = 0; p < 3; p++) {
                assertArrayEquals(expected.dW[p], dW[p], what + ": " + names[p] + " weight gradient");
            }
        }
    }

    @ParameterizedTest(name = "routed in backend memory: {0}")
    @ValueSource(booleans = {true, false})
    void recomputingGivesTheGradientsOfKeptActivationsBitForBit(boolean routesOnDevice) {
        try (CpuBackend cpu = new CpuBackend(2)) {
            // Host routing (Backend.expertCounts) is what expert parallelism and the cuBLAS grouped GEMMs use.
            Backend backend = routesOnDevice ? cpu : InterceptedBackend.of(cpu, (method, arguments, target) ->
                    method.equals("routesOnDevice") ? Boolean.FALSE : target.proceed());
            Activations activations = new Activations(backend, true);
            MoeScratch scratch = MoeScratch.allocate(backend, ROWS, K, D, I, E, S, false);
            ExpertLoads loads = new ExpertLoads(backend, 2, E);
            Layer[] layers = {Layer.random(backend, 1), Layer.random(backend, 2)};
            RoutedExperts[] experts = new RoutedExperts[2];
            Tensor[][] io = new Tensor[2][];
            float[][] outs = new float[2][];
            for (int l = 0; l < 2; l++) {
                GroupedExperts grouped = new GroupedExperts(backend, activations, layers[l].weights(),
                        layers[l].grads(), new GradientWrites(), D, I, S, S, scratch);
                experts[l] = new RoutedExperts(backend, activations, grouped, null, E, K, D, ROWS, loads, l, scratch);
                Layer in = layers[l];
                io[l] = new Tensor[] {upload(backend, in.x()), uploadInts(backend, in.idx()),
                    upload(backend, in.weight()), upload(backend, in.dOut()),
                    backend.allocate("test out", DType.F32, (long) ROWS * D),
                    backend.allocate("test dx", DType.F32, (long) ROWS * D)};
                experts[l].forward(io[l][0], io[l][1], io[l][2], io[l][4], ROWS, false);
                outs[l] = download(backend, io[l][4]);
            }
            Result[] recomputed = new Result[2];
            for (int l = 1; l >= 0; l--) {
                Tensor dWeight = experts[l].backward(io[l][3], io[l][0], io[l][2], io[l][5], ROWS, false);
                recomputed[l] = new Result(outs[l], download(backend, io[l][5]), download(backend, dWeight),
                        downloadAll(backend, layers[l].grads()));
            }
            for (int l = 0; l < 2; l++) {
                recomputed[l].assertSame(kept(backend, layers[l]), "layer " + l);
            }
        }
    }

    /**
     * A dense FFN of width 20 (a dense layer) and the shared experts' of width 12 after it, as a model holds them: one
     * {@link FfnScratch} of the wider, forwards in order, backwards in reverse (the later layer's forward overwrote h).
     */
    @Test
    void theDenseFfnsRecomputingHGiveTheGradientsOfKeptHBitForBit() {
        int[] widths = {20, 12};
        try (CpuBackend backend = new CpuBackend(2)) {
            Activations activations = new Activations(backend, true);
            FfnScratch scratch = FfnScratch.allocate(backend, ROWS, 20);
            SwiGluFfn[] ffns = new SwiGluFfn[2];
            Ffn[] layers = new Ffn[2];
            Tensor[][] io = new Tensor[2][];
            float[][] outs = new float[2][];
            for (int l = 0; l < 2; l++) {
                layers[l] = Ffn.random(backend, widths[l], 10 + l);
                ffns[l] = new SwiGluFfn(backend, activations, layers[l].weights(), layers[l].grads(),
                        new GradientWrites(), D, widths[l], ROWS, scratch);
                io[l] = new Tensor[] {upload(backend, layers[l].x()), upload(backend, layers[l].dOut()),
                    backend.allocate("test out", DType.F32, (long) ROWS * D),
                    backend.allocate("test dx", DType.F32, (long) ROWS * D)};
                ffns[l].forward(io[l][0], io[l][2], ROWS, false);
                outs[l] = download(backend, io[l][2]);
            }
            for (int l = 1; l >= 0; l--) {
                ffns[l].backward(io[l][1], io[l][0], io[l][3], ROWS, false);
                Result recomputed = new Result(outs[l], download(backend, io[l][3]), new float[0],
                        downloadAll(backend, layers[l].grads()));
                recomputed.assertSame(keptFfn(backend, layers[l]), "FFN of width " + widths[l]);
            }
        }
    }

    /** One dense FFN's inputs (host copies) and tensors. */
    record Ffn(int width, float[] x, float[] dOut, float[][] w, Tensor[] weights, Tensor[] grads) {

        static Ffn random(Backend backend, int width, long seed) {
            SplittableRandom random = new SplittableRandom(seed);
            float[][] w = {gaussian(random, width * D, 0.3), gaussian(random, width * D, 0.3),
                gaussian(random, D * width, 0.3)};
            Tensor[] weights = uploadAll(backend, w);
            Tensor[] grads = zeroGradients(backend, w);
            return new Ffn(width, gaussian(random, ROWS * D, 1), gaussian(random, ROWS * D, 1), w, weights, grads);
        }
    }

    /** The FFN's forward and backward over buffers of its own that hold h from forward to backward. */
    private static Result keptFfn(Backend b, Ffn in) {
        int f = in.width();
        long n = (long) ROWS * f;
        Tensor x = upload(b, in.x());
        Tensor dOut = upload(b, in.dOut());
        Tensor[] w = new Tensor[3];
        Tensor[] dW = new Tensor[3];
        for (int p = 0; p < 3; p++) {
            w[p] = upload(b, in.w()[p]);
            dW[p] = b.allocate("kept grad", DType.F32, in.w()[p].length);
            b.fill(dW[p], 0f);
        }
        Tensor g = b.allocate("kept g", DType.F32, n);
        Tensor u = b.allocate("kept u", DType.F32, n);
        Tensor h = b.allocate("kept h", DType.F32, n);
        Tensor out = b.allocate("kept out", DType.F32, (long) ROWS * D);
        b.matmulNT(ROWS, f, D, x, w[0], g, false);
        b.matmulNT(ROWS, f, D, x, w[1], u, false);
        b.swigluForward(g, u, h, n);
        b.matmulNT(ROWS, D, f, h, w[2], out, false);

        Tensor dH = b.allocate("kept dh", DType.F32, n);
        Tensor hAgain = b.allocate("h again", DType.F32, n);
        Tensor dG = b.allocate("kept dg", DType.F32, n);
        Tensor dU = b.allocate("kept du", DType.F32, n);
        Tensor dx = b.allocate("kept dx", DType.F32, (long) ROWS * D);
        b.matmulTN(D, f, ROWS, dOut, h, dW[2], true);
        b.matmulNN(ROWS, f, D, dOut, w[2], dH, false);
        b.swigluBackward(dH, g, u, hAgain, dG, dU, n);
        b.matmulTN(f, D, ROWS, dG, x, dW[0], true);
        b.matmulTN(f, D, ROWS, dU, x, dW[1], true);
        b.matmulNN(ROWS, D, f, dG, w[0], dx, false);
        b.matmulNN(ROWS, D, f, dU, w[1], dx, true);
        return new Result(download(b, out), download(b, dx), new float[0], downloadAll(b, dW));
    }

    /** The layer's forward and backward over buffers of its own that hold xs and h from forward to backward. */
    private static Result kept(Backend b, Layer in) {
        Tensor x = upload(b, in.x());
        Tensor idx = uploadInts(b, in.idx());
        Tensor weight = upload(b, in.weight());
        Tensor dOut = upload(b, in.dOut());
        Tensor slot = b.allocate("kept slot", DType.I32, S);
        int[] counts = b.expertCounts(idx, slot, ROWS, K, E);
        Tensor[] w = new Tensor[3];
        Tensor[] dW = new Tensor[3];
        for (int p = 0; p < 3; p++) {
            w[p] = upload(b, in.w()[p]);
            dW[p] = b.allocate("kept grad", DType.F32, in.w()[p].length);
            b.fill(dW[p], 0f);
        }
        Tensor xs = b.allocate("kept xs", DType.F32, (long) S * D);
        Tensor gs = b.allocate("kept gs", DType.F32, (long) S * I);
        Tensor us = b.allocate("kept us", DType.F32, (long) S * I);
        Tensor hs = b.allocate("kept hs", DType.F32, (long) S * I);
        Tensor ys = b.allocate("kept ys", DType.F32, (long) S * D);
        Tensor out = b.allocate("kept out", DType.F32, (long) ROWS * D);
        b.dispatchRows(x, slot, xs, ROWS, K, D);
        b.groupedMatmulNT(counts, I, D, xs, w[0], gs, false);
        b.groupedMatmulNT(counts, I, D, xs, w[1], us, false);
        b.swigluForward(gs, us, hs, (long) S * I);
        b.groupedMatmulNT(counts, D, I, hs, w[2], ys, false);
        b.combine(ys, slot, weight, out, ROWS, K, D, false);

        Tensor dYs = b.allocate("kept dys", DType.F32, (long) S * D);
        Tensor dWeight = b.allocate("kept dweight", DType.F32, S);
        Tensor dHs = b.allocate("kept dhs", DType.F32, (long) S * I);
        Tensor hsAgain = b.allocate("hs again", DType.F32, (long) S * I);
        Tensor dGs = b.allocate("kept dgs", DType.F32, (long) S * I);
        Tensor dUs = b.allocate("kept dus", DType.F32, (long) S * I);
        Tensor dXs = b.allocate("kept dxs", DType.F32, (long) S * D);
        Tensor dx = b.allocate("kept dx", DType.F32, (long) ROWS * D);
        b.combineBackward(dOut, ys, slot, weight, dYs, dWeight, ROWS, K, D);
        b.groupedMatmulTN(counts, D, I, dYs, hs, dW[2], true);
        b.groupedMatmulNN(counts, D, I, dYs, w[2], dHs, false);
        b.swigluBackward(dHs, gs, us, hsAgain, dGs, dUs, (long) S * I);
        b.groupedMatmulTN(counts, I, D, dGs, xs, dW[0], true);
        b.groupedMatmulTN(counts, I, D, dUs, xs, dW[1], true);
        b.groupedMatmulNN(counts, I, D, dGs, w[0], dXs, false);
        b.groupedMatmulNN(counts, I, D, dUs, w[1], dXs, true);
        b.dispatchRowsBackward(dXs, slot, dx, ROWS, K, D, false);
        return new Result(download(b, out), download(b, dx), download(b, dWeight), downloadAll(b, dW));
    }

    private static float[] gaussian(SplittableRandom random, int n, double std) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (std * random.nextGaussian());
        }
        return out;
    }

    private static Tensor upload(Backend b, float[] host) {
        Tensor t = b.allocate("test input", DType.F32, host.length);
        b.upload(host, 0, t, 0, host.length);
        return t;
    }

    private static Tensor uploadInts(Backend b, int[] host) {
        Tensor t = b.allocate("test ints", DType.I32, host.length);
        b.uploadInts(host, 0, t, 0, host.length);
        return t;
    }

    private static float[] download(Backend b, Tensor t) {
        float[] out = new float[Math.toIntExact(t.size())];
        b.download(t, 0, out, 0, out.length);
        return out;
    }

    private static float[][] downloadAll(Backend b, Tensor[] ts) {
        float[][] out = new float[ts.length][];
        for (int i = 0; i < ts.length; i++) {
            out[i] = download(b, ts[i]);
        }
        return out;
    }

    private static Tensor[] uploadAll(Backend backend, float[][] values) {
        Tensor[] tensors = new Tensor[values.length];
        for (int p = 0; p < values.length; p++) {
            tensors[p] = upload(backend, values[p]);
        }
        return tensors;
    }

    /** Zeroed gradients shaped as {@code values}. */
    private static Tensor[] zeroGradients(Backend backend, float[][] values) {
        Tensor[] grads = new Tensor[values.length];
        for (int p = 0; p < values.length; p++) {
            grads[p] = backend.allocate("test grad", DType.F32, values[p].length);
            backend.fill(grads[p], 0f);
        }
        return grads;
    }
}
