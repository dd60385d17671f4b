package org.sparkmoe.model.backend.cuda.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.DecayRanges;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.CudaBackend;
import org.sparkmoe.model.backend.cuda.CudaDevice;
import org.sparkmoe.model.backend.cuda.DeviceSelection;
import org.sparkmoe.model.backend.cuda.ElementType;
import org.sparkmoe.model.backend.cuda.GemmPrecision;
import org.sparkmoe.model.backend.cuda.GroupedGemmPath;

/**
 * Throughput of the CUDA backend on the anchor's configs: the op sequence of one full training step (forward,
 * backward, clipping, AdamW) over every layer, issued through the {@link Backend} interface on random device tensors,
 * timed with CUDA events (median of several steps), then once more op by op to split the time by concern. Also
 * measures the two ceilings (device copy bandwidth, a large bf16 GEMM) in the same run.
 *
 * <p>This is the engine's step as a sequence of backend calls with the real shapes, not the engine's own model code
 * (which the bench does not call yet): values are random, so no loss is learned; the work and the bytes are those
 * of a real step. Run: {@code java ... StepBench val2b small} (prints a table and one JSON line per config); a config
 * written {@code NAME:PATH...} runs its step on those paths: an {@link AttentionPath} instead of GEMM
 * ({@code val2b:flash}), a {@link GroupedGemmPath} instead of cuBLAS ({@code val2b:own}), or both
 * ({@code val2b:flash:own}); {@code separate} among them issues the memory-bound ops the engine fuses as the separate
 * ops they replace (residual add then RMSNorm; softmax, top-K, entropy; top-K backward, balance loss, softmax
 * backward; the loss sum after cross-entropy), for a before/after in one run.
 *
 * <p>Legend: R rows (= B·T), D width, H heads, Dh head dim, E routed experts, K top-K, F expert width, V vocab,
 * S slots (= R·K).
 */
public final class StepBench {

    private final CudaDevice device;
    private final CudaBackend backend;
    private final StepShape shape;
    private final Map<String, Double> millisByConcern = new LinkedHashMap<>();
    private final boolean fused;
    private boolean profiling;

    // weights (one layer's set reused for every layer: same shapes and bytes, memory kept low)
    private Tensor wq, wk, wv, wo, norm1, norm2, router, wGate, wUp, wDown, sGate, sUp, sDown, embed, head, normF;
    private Tensor gq, gk, gv, go, gNorm1, gNorm2, gRouter, gGate, gUp, gDown, gsGate, gsUp, gsDown, gEmbed, gHead, gNormF;
    // flat optimiser view: all parameters of the full model
    private Tensor allParams, allGrads, adamM, adamV;
    // activations
    private int[] tokenIds;
    private Tensor tokens, targets, x, xn, q, k, v, att, lse, rstd, h, logits, probs, idx, gateW, slot, slab, gateS,
            upS, actS, outS, sharedGate, sharedUp, sharedAct, dSharedAct, moeOut, headLogits, losses, scalars;
    private Tensor dX, dXn, dQ, dK, dV, dAtt, dH, dLogits, dProbs, dGateW, dSlab, dGateS, dUpS, dActS, dOutS,
            dSharedGate, dSharedUp;

    private StepBench(CudaDevice device, StepShape shape, AttentionPath attention, GroupedGemmPath grouped,
                      boolean fused) {
        this.device = device;
        this.backend = new CudaBackend(device, GemmPrecision.BF16, attention, grouped);
        this.shape = shape;
        this.fused = fused;
        allocate();
    }

    /** A weight: in a parameter arena of its own, so its GEMMs read a bf16 image as the engine's do. */
    private Tensor random(String name, long n, float scale, Random rnd) {
        Tensor t = backend.allocateParameters(name, n);
        int chunk = 1 << 22;
        float[] values = new float[(int) Math.min(n, chunk)];
        for (long off = 0; off < n; off += chunk) {
            int len = (int) Math.min(chunk, n - off);
            for (int i = 0; i < len; i++) {
                values[i] = (rnd.nextFloat() - 0.5f) * 3.4641f * scale;  // uniform with standard deviation `scale`
            }
            backend.upload(values, 0, t, off, len);
        }
        return t;
    }

    private Tensor zeros(String name, long n) {
        return backend.allocate(name, DType.F32, n);
    }

    private void allocate() {
        Random rnd = new Random(7);
        int d = shape.dim();
        int r = shape.rows();
        int e = shape.routed();
        int f = shape.expertWidth();
        int fs = f * shape.shared();
        long s = (long) r * shape.topK();
        float std = 0.006f;
        wq = random("wq", (long) d * d, std, rnd);
        wk = random("wk", (long) d * d, std, rnd);
        wv = random("wv", (long) d * d, std, rnd);
        wo = random("wo", (long) d * d, std, rnd);
        norm1 = random("norm1", d, 1, rnd);
        norm2 = random("norm2", d, 1, rnd);
        normF = random("normF", d, 1, rnd);
        router = random("router", (long) e * d, std, rnd);
        wGate = random("wGate", (long) e * f * d, std, rnd);
        wUp = random("wUp", (long) e * f * d, std, rnd);
        wDown = random("wDown", (long) e * d * f, std, rnd);
        sGate = random("sGate", (long) fs * d, std, rnd);
        sUp = random("sUp", (long) fs * d, std, rnd);
        sDown = random("sDown", (long) d * fs, std, rnd);
        embed = random("embed", (long) shape.vocab() * d, std, rnd);
        head = random("head", (long) shape.vocab() * d, std, rnd);
        gq = zeros("gq", (long) d * d);
        gk = zeros("gk", (long) d * d);
        gv = zeros("gv", (long) d * d);
        go = zeros("go", (long) d * d);
        gNorm1 = zeros("gNorm1", d);
        gNorm2 = zeros("gNorm2", d);
        gNormF = zeros("gNormF", d);
        gRouter = zeros("gRouter", (long) e * d);
        gGate = zeros("gGate", (long) e * f * d);
        gUp = zeros("gUp", (long) e * f * d);
        gDown = zeros("gDown", (long) e * d * f);
        gsGate = zeros("gsGate", (long) fs * d);
        gsUp = zeros("gsUp", (long) fs * d);
        gsDown = zeros("gsDown", (long) d * fs);
        gEmbed = zeros("gEmbed", (long) shape.vocab() * d);
        gHead = zeros("gHead", (long) shape.vocab() * d);
        long p = shape.parameters();
        // AdamW's time does not depend on the values: fill on the device rather than draw 2·10⁹ numbers on the host.
        allParams = backend.allocateParameters("params", p);
        backend.fill(allParams, 0.01f);
        allGrads = zeros("grads", p);
        backend.fill(allGrads, 1e-3f);
        adamM = zeros("adam.m", p);
        adamV = zeros("adam.v", p);

        tokenIds = new int[r];
        int[] targetIds = new int[r];
        for (int i = 0; i < r; i++) {
            tokenIds[i] = rnd.nextInt(shape.vocab());
            targetIds[i] = rnd.nextInt(shape.vocab());
        }
        tokens = backend.allocate("tokens", DType.I32, r);
        backend.uploadInts(tokenIds, 0, tokens, 0, r);
        targets = backend.allocate("targets", DType.I32, r);
        backend.uploadInts(targetIds, 0, targets, 0, r);
        x = random("x", (long) r * d, 1, rnd);
        xn = zeros("xn", (long) r * d);
        q = zeros("q", (long) r * d);
        k = zeros("k", (long) r * d);
        v = zeros("v", (long) r * d);
        att = zeros("att", (long) r * d);
        lse = zeros("lse", (long) r * shape.heads());
        rstd = zeros("rstd", r);
        h = zeros("h", (long) r * d);
        logits = zeros("routerLogits", (long) r * e);
        probs = zeros("probs", (long) r * e);
        idx = backend.allocate("idx", DType.I32, s);
        gateW = zeros("gateWeights", s);
        slot = backend.allocate("slot", DType.I32, s);
        slab = zeros("slab", s * d);
        gateS = zeros("gateSlab", s * f);
        upS = zeros("upSlab", s * f);
        actS = zeros("actSlab", s * f);
        outS = zeros("outSlab", s * d);
        sharedGate = zeros("sharedGate", (long) r * fs);
        sharedUp = zeros("sharedUp", (long) r * fs);
        sharedAct = zeros("sharedAct", (long) r * fs);
        dSharedAct = zeros("dSharedAct", (long) r * fs);
        moeOut = zeros("moeOut", (long) r * d);
        headLogits = zeros("headLogits", (long) r * shape.vocab());
        losses = zeros("losses", r);
        scalars = zeros("scalars", 8);
        dX = random("dX", (long) r * d, 1e-3f, rnd);
        dXn = zeros("dXn", (long) r * d);
        dQ = zeros("dQ", (long) r * d);
        dK = zeros("dK", (long) r * d);
        dV = zeros("dV", (long) r * d);
        dAtt = zeros("dAtt", (long) r * d);
        dH = zeros("dH", (long) r * d);
        dLogits = zeros("dRouterLogits", (long) r * e);
        dProbs = zeros("dProbs", (long) r * e);
        dGateW = zeros("dGateWeights", s);
        dSlab = zeros("dSlab", s * d);
        dGateS = zeros("dGateSlab", s * f);
        dUpS = zeros("dUpSlab", s * f);
        dActS = zeros("dActSlab", s * f);
        dOutS = zeros("dOutSlab", s * d);
        dSharedGate = zeros("dSharedGate", (long) r * fs);
        dSharedUp = zeros("dSharedUp", (long) r * fs);
        device.synchronize();
    }

    /** {@code work}'s products with {@code operands} held unwritten, as the engine's layers run them. */
    private void held(List<Tensor> operands, Runnable work) {
        try (HeldOperands _ = backend.holdOperands(operands.toArray(Tensor[]::new))) {
            work.run();
        }
    }

    private void op(String concern, Runnable work) {
        if (!profiling) {
            work.run();
            return;
        }
        double ms = device.time(work);
        millisByConcern.merge(concern, ms, Double::sum);
    }

    /** The shared and routed experts' backward inside the produce scopes of dY and the slab, as the layers run it. */
    private void moeBackward(int[] counts) {
        int r = shape.rows();
        int d = shape.dim();
        int f = shape.expertWidth();
        int fs = f * shape.shared();
        long s = (long) r * shape.topK();
        // dH first; the SwiGLU's backward then writes h again beside dG and dU, for the down projection's weight
        // gradient.
        try (HeldOperands _ = backend.produceOperands(sharedAct, dSharedGate, dSharedUp)) {
            try (HeldOperands _ = backend.holdOperands(dX)) {
                op("GEMM dense", () -> backend.matmulNN(r, fs, d, dX, sDown, dSharedAct, false));
                op("swiglu", () -> backend.swigluBackward(dSharedAct, sharedGate, sharedUp, sharedAct, dSharedGate,
                        dSharedUp, (long) r * fs));
                op("GEMM dense", () -> backend.matmulTN(d, fs, r, dX, sharedAct, gsDown, true));
            }
            try (HeldOperands _ = backend.holdOperands(xn)) {
                op("GEMM dense", () -> {
                    backend.matmulNN(r, d, fs, dSharedGate, sGate, dXn, false);
                    backend.matmulNN(r, d, fs, dSharedUp, sUp, dXn, true);
                    backend.matmulTN(fs, d, r, dSharedGate, xn, gsGate, true);
                    backend.matmulTN(fs, d, r, dSharedUp, xn, gsUp, true);
                });
            }
        }
        op("GEMM experts", () -> backend.groupedMatmulNN(counts, d, f, dOutS, wDown, dActS, false));
        try (HeldOperands _ = backend.produceOperands(actS, dGateS, dUpS)) {
            op("swiglu", () -> backend.swigluBackward(dActS, gateS, upS, actS, dGateS, dUpS, s * f));
            op("GEMM experts", () -> backend.groupedMatmulTN(counts, d, f, dOutS, actS, gDown, true));
            op("GEMM experts", () -> {
                backend.groupedMatmulNN(counts, f, d, dGateS, wGate, dSlab, false);
                backend.groupedMatmulNN(counts, f, d, dUpS, wUp, dSlab, true);
                backend.groupedMatmulTN(counts, f, d, dGateS, slab, gGate, true);
                backend.groupedMatmulTN(counts, f, d, dUpS, slab, gUp, true);
            });
        }
    }

    /** {@code x += branch; xn = rmsnorm(x)}: one op, or the add and the norm apart. */
    private void residualNorm(Tensor branch, Tensor weight) {
        int r = shape.rows();
        int d = shape.dim();
        op("norms+residual", () -> {
            if (fused) {
                backend.rmsNormResidualForward(x, branch, x, weight, xn, rstd, r, d, 1e-6f);
            } else {
                backend.add(x, branch, x);
                backend.rmsNormForward(x, weight, xn, rstd, r, d, 1e-6f);
            }
        });
    }

    /** One training step's backend calls, in the engine's order. */
    private void step() {
        int d = shape.dim();
        int r = shape.rows();
        int e = shape.routed();
        int kk = shape.topK();
        int f = shape.expertWidth();
        int fs = f * shape.shared();
        int b = shape.batch();
        int t = shape.seqLen();
        int hh = shape.heads();
        int dh = shape.headDim();
        long s = (long) r * kk;
        int[][] counts = new int[1][];
        op("embedding", () -> backend.embeddingForward(embed, tokenIds, x, r, d));
        for (int layer = 0; layer < shape.layers(); layer++) {
            if (layer == 0) {
                op("norms+residual", () -> backend.rmsNormForward(x, norm1, xn, rstd, r, d, 1e-6f));
            } else {
                residualNorm(moeOut, norm1);
            }
            op("GEMM dense", () -> held(List.of(xn), () -> {
                backend.matmulNT(r, d, d, xn, wq, q, false);
                backend.matmulNT(r, d, d, xn, wk, k, false);
                backend.matmulNT(r, d, d, xn, wv, v, false);
            }));
            op("attention", () -> {
                backend.rope(q, b, t, hh, dh, 10000f, false);
                backend.rope(k, b, t, hh, dh, 10000f, false);
                backend.attentionForward(q, k, v, att, lse, b, t, hh, dh);
            });
            op("GEMM dense", () -> backend.matmulNT(r, d, d, att, wo, h, false));
            residualNorm(h, norm2);
            op("GEMM dense", () -> backend.matmulNT(r, e, d, xn, router, logits, false));
            op("routing+permutation", () -> {
                if (fused) {
                    backend.routerForward(logits, probs, idx, gateW, r, e, kk, false, scalars, 4);
                } else {
                    backend.softmaxRows(logits, probs, r, e);
                    backend.topK(probs, idx, gateW, r, e, kk, false);
                    backend.routerEntropy(probs, r, e, scalars, 4);
                }
                counts[0] = backend.expertCounts(idx, slot, r, kk, e);
            });
            // As the layers do: the slab, h, and in backward dY, dG, dU are produced for their GEMMs.
            try (HeldOperands _ = backend.produceOperands(slab)) {
                op("routing+permutation", () -> backend.dispatchRows(xn, slot, slab, r, kk, d));
                op("GEMM experts", () -> {
                    backend.groupedMatmulNT(counts[0], f, d, slab, wGate, gateS, false);
                    backend.groupedMatmulNT(counts[0], f, d, slab, wUp, upS, false);
                });
            }
            try (HeldOperands _ = backend.produceOperands(actS)) {
                op("swiglu", () -> backend.swigluForward(gateS, upS, actS, s * f));
                op("GEMM experts", () -> backend.groupedMatmulNT(counts[0], d, f, actS, wDown, outS, false));
            }
            op("GEMM dense", () -> held(List.of(xn), () -> {
                backend.matmulNT(r, fs, d, xn, sGate, sharedGate, false);
                backend.matmulNT(r, fs, d, xn, sUp, sharedUp, false);
            }));
            try (HeldOperands _ = backend.produceOperands(sharedAct)) {
                op("swiglu", () -> backend.swigluForward(sharedGate, sharedUp, sharedAct, (long) r * fs));
                op("GEMM dense", () -> backend.matmulNT(r, d, fs, sharedAct, sDown, moeOut, false));
            }
            op("routing+permutation", () -> backend.combine(outS, slot, gateW, moeOut, r, kk, d, true));
        }
        residualNorm(moeOut, normF);
        op("GEMM dense", () -> backend.matmulNT(r, shape.vocab(), d, xn, head, headLogits, false));
        op("loss", () -> {
            backend.crossEntropy(headLogits, targets, losses, headLogits, r, shape.vocab(), 1f / r, scalars, 0);
            if (!fused) {
                backend.sum(losses, scalars, 0);
            }
        });
        op("GEMM dense", () -> held(List.of(headLogits), () -> {
            backend.matmulNN(r, d, shape.vocab(), headLogits, head, dXn, false);
            backend.matmulTN(shape.vocab(), d, r, headLogits, xn, gHead, true);
        }));
        op("norms+residual", () -> backend.rmsNormBackward(dXn, x, normF, rstd, dX, gNormF, r, d));
        for (int layer = shape.layers() - 1; layer >= 0; layer--) {
            // MoE block backward (dX is the residual gradient)
            try (HeldOperands _ = backend.produceOperands(dOutS)) {
                op("routing+permutation", () -> backend.combineBackward(dX, outS, slot, gateW, dOutS, dGateW, r, kk,
                        d));
                try (HeldOperands _ = backend.produceOperands(slab)) {
                    op("routing+permutation", () -> backend.dispatchRows(xn, slot, slab, r, kk, d));
                    moeBackward(counts[0]);
                }
            }
            op("routing+permutation", () -> {
                backend.dispatchRowsBackward(dSlab, slot, dXn, r, kk, d, true);
                if (fused) {
                    backend.routerBackward(probs, idx, gateW, dGateW, dLogits, b, t, e, kk, false, true, 0.001f, 1, 0f,
                            scalars, 2);
                } else {
                    backend.topKBackward(probs, idx, gateW, dGateW, dProbs, r, e, kk, false);
                    backend.balanceLoss(probs, idx, dProbs, b, t, e, kk, true, 0.001f, 1, 0f, scalars, 2);
                    backend.softmaxRowsBackward(probs, dProbs, dLogits, r, e);
                }
            });
            op("GEMM dense", () -> held(List.of(dLogits), () -> {
                backend.matmulNN(r, d, e, dLogits, router, dXn, true);
                backend.matmulTN(e, d, r, dLogits, xn, gRouter, true);
            }));
            op("norms+residual", () -> backend.rmsNormBackward(dXn, x, norm2, rstd, dX, gNorm2, r, d));
            // attention block backward
            op("GEMM dense", () -> held(List.of(dX), () -> {
                backend.matmulNN(r, d, d, dX, wo, dAtt, false);
                backend.matmulTN(d, d, r, dX, att, go, true);
            }));
            op("attention", () -> {
                backend.attentionBackward(dAtt, q, k, v, att, lse, dQ, dK, dV, b, t, hh, dh);
                backend.rope(dQ, b, t, hh, dh, 10000f, true);
                backend.rope(dK, b, t, hh, dh, 10000f, true);
            });
            op("GEMM dense", () -> held(List.of(dQ, dK, dV, xn), () -> {
                backend.matmulNN(r, d, d, dQ, wq, dXn, false);
                backend.matmulNN(r, d, d, dK, wk, dXn, true);
                backend.matmulNN(r, d, d, dV, wv, dXn, true);
                backend.matmulTN(d, d, r, dQ, xn, gq, true);
                backend.matmulTN(d, d, r, dK, xn, gk, true);
                backend.matmulTN(d, d, r, dV, xn, gv, true);
            }));
            op("norms+residual", () -> backend.rmsNormBackward(dXn, x, norm1, rstd, dX, gNorm1, r, d));
        }
        op("embedding", () -> backend.embeddingBackward(dX, tokenIds, gEmbed, r, d));
        op("optimizer", () -> {
            backend.sumSquares(allGrads, scalars, 0);
            backend.adamw(allParams, allGrads, adamM, adamV, DecayRanges.whole(allParams.size(), true), 3e-4f, 0.9f,
                    0.95f, 1e-8f, 0.1f, 1f, 1);
        });
    }

    private record Result(String config, double stepMillis, double tokensPerSecond, double modelTflops,
            Map<String, Double> profile) {
    }

    private Result measure(int warmup, int steps) {
        for (int i = 0; i < warmup; i++) {
            step();
        }
        device.synchronize();
        double[] millis = new double[steps];
        for (int i = 0; i < steps; i++) {
            millis[i] = device.time(this::step);
        }
        java.util.Arrays.sort(millis);
        double median = millis[steps / 2];
        device.stats().reset();
        long t0 = System.nanoTime();
        step();
        device.synchronize();
        double wall = (System.nanoTime() - t0) / 1e6;
        System.out.printf(Locale.ROOT, "%s host view of one step: %.1f ms wall; %s; issuing %.1f ms%n", shape.name(),
                wall, device.stats(), wall - device.stats().blockedMillis());
        profiling = true;
        step();
        profiling = false;
        double tokensPerSecond = shape.rows() / (median / 1000);
        return new Result(shape.name(), median, tokensPerSecond, tokensPerSecond * shape.flopsPerToken() / 1e12,
                new LinkedHashMap<>(millisByConcern));
    }

    /** Device-to-device copy bandwidth (bytes read + written) and a random-data 8192³ bf16 GEMM, the two ceilings. */
    private static void ceilings(CudaDevice device) {
        long n = 1L << 30;
        CudaBackend backend = new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM);
        Tensor a = backend.allocate("copyA", DType.F32, n);
        Tensor b = backend.allocate("copyB", DType.F32, n);
        backend.fill(a, 1.5f);
        backend.copy(a, b);
        double[] copy = new double[5];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = device.time(() -> backend.copy(a, b));
        }
        java.util.Arrays.sort(copy);
        double bandwidth = 8.0 * n / (copy[2] / 1000) / 1e12;
        int m = 8192;
        Random rnd = new Random(3);
        float[] values = new float[m * m];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) rnd.nextGaussian();
        }
        try (var x = device.allocate((long) m * m, ElementType.BF16); var y = device.allocate((long) m * m, ElementType.BF16);
                var z = device.allocate((long) m * m, ElementType.BF16)) {
            x.uploadAsBf16(values);
            y.uploadAsBf16(values);
            Runnable gemm = () -> device.cublas().gemm(ElementType.BF16, ElementType.BF16, false, false, m, m, m, 1f,
                    x.pointer(), m, y.pointer(), m, 0f, z.pointer(), m);
            for (int i = 0; i < 3; i++) {
                gemm.run();
            }
            double[] ms = new double[10];
            for (int i = 0; i < ms.length; i++) {
                ms[i] = device.time(gemm);
            }
            java.util.Arrays.sort(ms);
            double tflops = 2.0 * m * m * m / (ms[5] / 1000) / 1e12;
            System.out.printf(Locale.ROOT, "ceilings: device copy %.2f TB/s (read+write, 4 GiB), bf16 GEMM 8192^3 %.0f"
                    + " TFLOP/s (random data, median of 10)%n", bandwidth, tflops);
            System.out.printf(Locale.ROOT, "{\"ceiling\":true,\"copy_TBps\":%.3f,\"bf16_gemm_TFLOPs\":%.1f}%n", bandwidth,
                    tflops);
        }
        backend.close();
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            throw new IllegalArgumentException("usage: StepBench CONFIG[:PATH]... (val2b, small; attention gemm, fused,"
                    + " flash; grouped GEMMs cublas, own; separate: the fused memory-bound ops as separate ops)");
        }
        try (CudaDevice device = CudaDevice.open(new DeviceSelection(0, "StepBench"))) {
            ceilings(device);
            for (String name : args) {
                String[] parts = name.split(":");
                StepShape shape = StepShape.named(parts[0]);
                AttentionPath attention = AttentionPath.GEMM;
                GroupedGemmPath grouped = GroupedGemmPath.CUBLAS;
                boolean fused = true;
                for (int i = 1; i < parts.length; i++) {
                    String path = parts[i].toUpperCase(Locale.ROOT);
                    if (parts[i].equals("separate")) {
                        fused = false;
                    } else if (Arrays.stream(GroupedGemmPath.values()).anyMatch(g -> g.name().equals(path))) {
                        grouped = GroupedGemmPath.valueOf(path);
                    } else {
                        attention = AttentionPath.valueOf(path);
                    }
                }
                StepBench bench = new StepBench(device, shape, attention, grouped, fused);
                Result result = bench.measure(2, 5);
                print(shape, attention, grouped, fused, result);
                bench.backend.close();
            }
        }
    }

    private static void print(StepShape shape, AttentionPath attention, GroupedGemmPath grouped, boolean fused,
                              Result result) {
        double profiled = result.profile().values().stream().mapToDouble(Double::doubleValue).sum();
        System.out.printf(Locale.ROOT, "%s (attention %s, grouped GEMMs %s%s): %d tokens/step, step %.1f ms (median of"
                + " 5), %.0f tokens/s, %.1f model TFLOP/s, %.2fM params%n", shape.name(), attention, grouped,
                fused ? "" : ", separate ops", shape.rows(), result.stepMillis(), result.tokensPerSecond(),
                result.modelTflops(), shape.parameters() / 1e6);
        System.out.printf(Locale.ROOT, "  where the time goes (one step timed op by op, %.1f ms in all):%n", profiled);
        StringBuilder json = new StringBuilder();
        result.profile().forEach((concern, ms) -> {
            System.out.printf(Locale.ROOT, "    %-22s %8.1f ms  %5.1f%%%n", concern, ms, 100 * ms / profiled);
            json.append(String.format(Locale.ROOT, ",\"ms_%s\":%.2f", concern.replaceAll("[^A-Za-z]+", "_"), ms));
        });
        String impl = "sparkmoe-cuda" + (attention == AttentionPath.GEMM ? "" : " attention=" + attention)
                + (grouped == GroupedGemmPath.CUBLAS ? "" : " grouped=" + grouped) + (fused ? "" : " separate-ops");
        System.out.printf(Locale.ROOT, "{\"config\":\"%s\",\"impl\":\"%s\",\"tokens_per_s\":%.0f,"
                + "\"model_TFLOPs\":%.1f,\"step_ms\":%.1f%s}%n", shape.name(), impl, result.tokensPerSecond(),
                result.modelTflops(), result.stepMillis(), json);
    }
}
