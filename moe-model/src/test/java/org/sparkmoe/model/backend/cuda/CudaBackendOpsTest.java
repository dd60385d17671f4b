package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.sparkmoe.model.backend.cuda.Checks.FP32_TOLERANCE;
import static org.sparkmoe.model.backend.cuda.Checks.gaussian;

import java.lang.reflect.Method;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparkmoe.model.backend.DecayRanges;
import org.sparkmoe.model.backend.cuda.BackendPair.Both;

/**
 * Every non-GEMM op of the CUDA backend against the CPU backend on random inputs (a fixed seed per test), fp32 paths
 * within 1e-5 relative (2-norm), outputs NaN-poisoned before each op. Shapes are odd-sized on purpose (no multiple of
 * a block). Skipped without a GPU.
 */
class CudaBackendOpsTest {

    private BackendPair pair;
    private Random random;

    @BeforeEach
    void open(TestInfo test) {
        pair = new BackendPair(GemmPrecision.FP32);
        random = Checks.seededRandom(test.getTestMethod().map(Method::getName).orElseThrow() + " "
                + test.getDisplayName());
    }

    @AfterEach
    void close() {
        if (pair != null) {
            pair.close();
        }
    }

    @Test
    void elementwiseOps() {
        int n = 10_007;
        Both a = pair.input("a", gaussian(random, n, 1));
        Both b = pair.input("b", gaussian(random, n, 1));
        Both sum = pair.output("sum", n);
        Both copy = pair.output("copy", n);
        pair.run((be, s) -> {
            be.add(s.of(a), s.of(b), s.of(sum));
            be.copy(s.of(sum), s.of(copy));
            be.scale(s.of(copy), 0.37f);
        });
        pair.assertClose("add", sum, FP32_TOLERANCE);
        pair.assertClose("copy+scale", copy, FP32_TOLERANCE);
        Both filled = pair.output("filled", n);
        pair.run((be, s) -> be.fill(s.of(filled), 2.5f));
        pair.assertClose("fill", filled, 0);
    }

    @Test
    void embeddingForwardAndBackward() {
        int vocab = 101;
        int rows = 333;
        int dim = 96;
        int[] tokens = new int[rows];
        for (int r = 0; r < rows; r++) {
            tokens[r] = random.nextInt(vocab / 3);  // repeats, so the backward sums several rows per token
        }
        Both table = pair.input("table", gaussian(random, vocab * dim, 1));
        Both out = pair.output("out", rows * dim);
        Both dOut = pair.input("dOut", gaussian(random, rows * dim, 1));
        Both dTable = pair.input("dTable", gaussian(random, vocab * dim, 1));
        pair.run((be, s) -> {
            be.embeddingForward(s.of(table), tokens, s.of(out), rows, dim);
            be.embeddingBackward(s.of(dOut), tokens, s.of(dTable), rows, dim);
        });
        pair.assertClose("embedding forward", out, FP32_TOLERANCE);
        pair.assertClose("embedding backward (+=)", dTable, FP32_TOLERANCE);
    }

    @Test
    void rmsNormForwardAndBackward() {
        int rows = 257;
        int dim = 1280;
        Both x = pair.input("x", gaussian(random, rows * dim, 2));
        Both w = pair.input("w", gaussian(random, dim, 1));
        Both y = pair.output("y", rows * dim);
        Both rstd = pair.output("rstd", rows);
        Both dy = pair.input("dy", gaussian(random, rows * dim, 1));
        Both dx = pair.input("dx", gaussian(random, rows * dim, 1));
        Both dw = pair.input("dw", gaussian(random, dim, 1));
        pair.run((be, s) -> {
            be.rmsNormForward(s.of(x), s.of(w), s.of(y), s.of(rstd), rows, dim, 1e-6f);
            be.rmsNormBackward(s.of(dy), s.of(x), s.of(w), s.of(rstd), s.of(dx), s.of(dw), rows, dim);
        });
        pair.assertClose("rmsnorm y", y, FP32_TOLERANCE);
        pair.assertClose("rmsnorm rstd", rstd, FP32_TOLERANCE);
        pair.assertClose("rmsnorm dx (+=)", dx, FP32_TOLERANCE);
        pair.assertClose("rmsnorm dw (+=)", dw, FP32_TOLERANCE);
    }

    /**
     * Several shapes on one backend, each its own (cos, sin) table: val2b's head dim, small's, another theta and
     * length, and a head dim whose half is no multiple of 4 (one pair a thread).
     */
    @Test
    void ropeAndItsInverse() {
        int[][] shapes = {{2, 2048, 3, 64}, {3, 77, 2, 128}, {1, 5, 2, 6}, {2, 2048, 1, 64}};
        float[] thetas = {10000f, 500000f, 10000f, 10000f};
        for (int c = 0; c < shapes.length; c++) {
            int batch = shapes[c][0];
            int seqLen = shapes[c][1];
            int heads = shapes[c][2];
            int headDim = shapes[c][3];
            float theta = thetas[c];
            String shape = batch + " x " + seqLen + " x " + heads + " x " + headDim + ", theta " + theta;
            float[] values = gaussian(random, batch * seqLen * heads * headDim, 1);
            Both x = pair.input("x", values);
            pair.run((be, s) -> be.rope(s.of(x), batch, seqLen, heads, headDim, theta, false));
            pair.assertClose("rope forward, " + shape, x, FP32_TOLERANCE);
            pair.run((be, s) -> be.rope(s.of(x), batch, seqLen, heads, headDim, theta, true));
            pair.assertClose("rope inverse, " + shape, x, FP32_TOLERANCE);
            Checks.assertClose("rope inverse restores x, " + shape, pair.gpuValues(x), values, FP32_TOLERANCE);
        }
    }

    /** The paths that compute in fp32 here; FLASH is bf16 by design (CudaFlashAttentionTest). */
    static Stream<Arguments> attentionCases() {
        return Stream.of(AttentionPath.GEMM, AttentionPath.FUSED).flatMap(path -> IntStream.of(32, 64, 128).mapToObj(
                headDim -> Arguments.of(path, headDim)));
    }

    @ParameterizedTest
    @MethodSource("attentionCases")
    void attentionForwardAndBackward(AttentionPath path, int headDim) {
        try (BackendPair paths = new BackendPair(GemmPrecision.FP32, path)) {
            checkAttention(paths, path + " hd" + headDim, headDim, FP32_TOLERANCE);
        }
    }

    @Test
    void attentionWithBf16OperandsStaysWithinBf16Tolerance() {
        try (BackendPair bf16 = new BackendPair(GemmPrecision.BF16, AttentionPath.GEMM)) {
            checkAttention(bf16, "GEMM bf16 hd80", 80, Checks.BF16_TOLERANCE);
        }
    }

    private void checkAttention(BackendPair pair, String label, int headDim, double tolerance) {
        int batch = 2;
        int seqLen = 77;
        int heads = 3;
        PairedAttention run = PairedAttention.run(pair, random, batch, seqLen, heads, headDim);
        pair.assertClose("attention out " + label, run.out(), tolerance);
        pair.assertClose("attention lse " + label, run.lse(), tolerance);
        pair.assertClose("attention dq " + label, run.dq(), tolerance);
        pair.assertClose("attention dk " + label, run.dk(), tolerance);
        pair.assertClose("attention dv " + label, run.dv(), tolerance);
    }

    @Test
    void swigluForwardAndBackward() {
        int n = 50_021;
        Both gate = pair.input("gate", gaussian(random, n, 2));
        Both up = pair.input("up", gaussian(random, n, 1));
        Both h = pair.output("h", n);
        Both dh = pair.input("dh", gaussian(random, n, 1));
        Both hAgain = pair.output("h again", n);
        Both dGate = pair.output("dGate", n);
        Both dUp = pair.output("dUp", n);
        pair.run((be, s) -> {
            be.swigluForward(s.of(gate), s.of(up), s.of(h), n);
            be.swigluBackward(s.of(dh), s.of(gate), s.of(up), s.of(hAgain), s.of(dGate), s.of(dUp), n);
        });
        pair.assertClose("swiglu h", h, FP32_TOLERANCE);
        pair.assertClose("swiglu dGate", dGate, FP32_TOLERANCE);
        pair.assertClose("swiglu dUp", dUp, FP32_TOLERANCE);
        assertArrayEquals(pair.gpuValues(h), pair.gpuValues(hAgain), "the backward's h is not the forward's bits");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void routerSoftmaxTopKAndBackwards(boolean normalize) {
        int rows = 301;
        int experts = 63;
        int k = 7;
        Both logits = pair.input("logits", gaussian(random, rows * experts, 2));
        Both probs = pair.output("probs", rows * experts);
        Both idx = pair.intOutput("idx", rows * k);
        Both weight = pair.output("weight", rows * k);
        Both dWeight = pair.input("dWeight", gaussian(random, rows * k, 1));
        Both dProbs = pair.output("dProbs", rows * experts);
        Both dLogits = pair.output("dLogits", rows * experts);
        Both scalars = pair.output("scalars", 4);
        pair.run((be, s) -> {
            be.fill(s.of(scalars), 0f);
            be.softmaxRows(s.of(logits), s.of(probs), rows, experts);
            be.topK(s.of(probs), s.of(idx), s.of(weight), rows, experts, k, normalize);
            be.topKBackward(s.of(probs), s.of(idx), s.of(weight), s.of(dWeight), s.of(dProbs), rows, experts, k,
                    normalize);
            be.softmaxRowsBackward(s.of(probs), s.of(dProbs), s.of(dLogits), rows, experts);
            be.routerEntropy(s.of(probs), rows, experts, s.of(scalars), 2);
        });
        pair.assertClose("softmax", probs, FP32_TOLERANCE);
        assertArrayEquals(pair.cpuInts(idx), pair.gpuInts(idx), "top-K expert indices");
        pair.assertClose("top-K weights", weight, FP32_TOLERANCE);
        pair.assertClose("top-K backward", dProbs, FP32_TOLERANCE);
        pair.assertClose("softmax backward", dLogits, FP32_TOLERANCE);
        pair.assertClose("router entropy", scalars, FP32_TOLERANCE);
    }

    @Test
    void hashRouting() {
        int rows = 1000;
        int[] tokens = new int[rows];
        for (int r = 0; r < rows; r++) {
            tokens[r] = random.nextInt(1 << 20);
        }
        Both ids = pair.ints("tokens", tokens);
        Both idx = pair.intOutput("idx", rows);
        Both weight = pair.output("weight", rows);
        pair.run((be, s) -> be.hashRoute(s.of(ids), s.of(idx), s.of(weight), rows, 63));
        assertArrayEquals(pair.cpuInts(idx), pair.gpuInts(idx), "hash routing");
        pair.assertClose("hash weights", weight, 0);
    }

    /** A width of whole 16-byte quads (the kernels' vector path) and one of odd pairs (their element path). */
    @ParameterizedTest
    @ValueSource(ints = {160, 162})
    void sortDispatchAndCombine(int dim) {
        int rows = 211;
        int experts = 31;
        int k = 3;
        int[] choice = new int[rows * k];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < k; j++) {
                choice[r * k + j] = (r * 7 + j * 5 + random.nextInt(3)) % experts;
            }
        }
        Both idx = pair.ints("idx", choice);
        Both slot = pair.intOutput("slot", rows * k);
        int[][] counts = new int[2][];
        pair.run((be, s) -> counts[be == pair.gpu ? 0 : 1] = be.expertCounts(s.of(idx), s.of(slot), rows, k, experts));
        assertArrayEquals(counts[1], counts[0], "tokens per expert");
        assertArrayEquals(pair.cpuInts(slot), pair.gpuInts(slot), "slots");

        Both x = pair.input("x", gaussian(random, rows * dim, 1));
        Both slab = pair.output("slab", rows * k * dim);
        Both weight = pair.input("weight", gaussian(random, rows * k, 1));
        Both y = pair.input("y", gaussian(random, rows * k * dim, 1));
        Both out = pair.input("out", gaussian(random, rows * dim, 1));
        Both dOut = pair.input("dOut", gaussian(random, rows * dim, 1));
        Both dY = pair.output("dY", rows * k * dim);
        Both dWeight = pair.output("dWeight", rows * k);
        Both dx = pair.input("dx", gaussian(random, rows * dim, 1));
        Both combined = pair.output("combined", rows * dim);
        Both dxOverwritten = pair.output("dx overwritten", rows * dim);
        pair.run((be, s) -> {
            be.dispatchRows(s.of(x), s.of(slot), s.of(slab), rows, k, dim);
            be.combine(s.of(y), s.of(slot), s.of(weight), s.of(out), rows, k, dim, true);
            be.combine(s.of(y), s.of(slot), s.of(weight), s.of(combined), rows, k, dim, false);
            be.combineBackward(s.of(dOut), s.of(y), s.of(slot), s.of(weight), s.of(dY), s.of(dWeight), rows, k, dim);
            be.dispatchRowsBackward(s.of(dY), s.of(slot), s.of(dx), rows, k, dim, true);
            be.dispatchRowsBackward(s.of(dY), s.of(slot), s.of(dxOverwritten), rows, k, dim, false);
        });
        pair.assertClose("dispatch", slab, 0);
        pair.assertClose("combine (+=)", out, FP32_TOLERANCE);
        pair.assertClose("combine (overwrites a NaN-poisoned output)", combined, FP32_TOLERANCE);
        pair.assertClose("combine backward dY", dY, FP32_TOLERANCE);
        pair.assertClose("combine backward dWeight", dWeight, FP32_TOLERANCE);
        pair.assertClose("dispatch backward (+=)", dx, FP32_TOLERANCE);
        pair.assertClose("dispatch backward (overwrites a NaN-poisoned output)", dxOverwritten, FP32_TOLERANCE);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void balanceLosses(boolean seqAux) {
        int batch = 3;
        int seqLen = 129;
        int experts = 64;
        int k = 6;
        int rows = batch * seqLen;
        float[] logits = gaussian(random, rows * experts, 1);
        int[] choice = new int[rows * k];
        for (int i = 0; i < choice.length; i++) {
            choice[i] = random.nextInt(experts);
        }
        Both probsLogits = pair.input("logits", logits);
        Both probs = pair.output("probs", rows * experts);
        Both idx = pair.ints("idx", choice);
        Both dProbs = pair.input("dProbs", gaussian(random, rows * experts, 1e-3));
        Both scalars = pair.output("scalars", 3);
        pair.run((be, s) -> {
            be.fill(s.of(scalars), 0f);
            be.softmaxRows(s.of(probsLogits), s.of(probs), rows, experts);
            be.balanceLoss(s.of(probs), s.of(idx), s.of(dProbs), batch, seqLen, experts, k, seqAux, 0.01f, 4, 0.05f,
                    s.of(scalars), 1);
        });
        pair.assertClose("balance losses seqAux=" + seqAux, scalars, FP32_TOLERANCE);
        pair.assertClose("balance loss gradient (+=) seqAux=" + seqAux, dProbs, FP32_TOLERANCE);
    }

    /**
     * Vocabularies whose rows a block holds in registers (100: one warp; 8,192: 512 threads) and one it streams twice
     * past its registers (40,000: 1,024 threads hold 16,384).
     */
    @ParameterizedTest
    @ValueSource(ints = {100, 8192, 40_000})
    void crossEntropyWithMaskedRows(int vocab) {
        int rows = 67;
        int[] targets = new int[rows];
        for (int r = 0; r < rows; r++) {
            targets[r] = r % 9 == 0 ? -1 : random.nextInt(vocab);
        }
        Both logits = pair.input("logits", gaussian(random, rows * vocab, 3));
        Both target = pair.ints("targets", targets);
        Both losses = pair.output("losses", rows);
        Both dLogits = pair.output("dLogits", rows * vocab);
        Both scalars = pair.output("scalars", 3);
        pair.run((be, s) -> {
            be.fill(s.of(scalars), 0f);
            be.crossEntropy(s.of(logits), s.of(target), s.of(losses), s.of(dLogits), rows, vocab, 1f / rows,
                    s.of(scalars), 0);
            be.sum(s.of(losses), s.of(scalars), 1);
            be.sumSquares(s.of(dLogits), s.of(scalars), 2);
        });
        pair.assertClose("cross-entropy losses", losses, FP32_TOLERANCE);
        pair.assertClose("cross-entropy gradient", dLogits, FP32_TOLERANCE);
        pair.assertClose("loss sum of the fused op, sum and sum of squares", scalars, FP32_TOLERANCE);
        Both inPlace = pair.input("logits-in-place", gaussian(random, rows * vocab, 3));
        Both lossesInPlace = pair.output("losses-in-place", rows);
        Both scalarsInPlace = pair.output("scalars-in-place", 1);
        pair.run((be, s) -> be.crossEntropy(s.of(inPlace), s.of(target), s.of(lossesInPlace), s.of(inPlace), rows, vocab,
                1f / rows, s.of(scalarsInPlace), 0));
        pair.assertClose("cross-entropy gradient over its logits", inPlace, FP32_TOLERANCE);
        pair.assertClose("cross-entropy losses (aliased)", lossesInPlace, FP32_TOLERANCE);
        pair.assertClose("cross-entropy loss sum (aliased)", scalarsInPlace, FP32_TOLERANCE);
    }

    @Test
    void adamwSteps() {
        int n = 100_003;
        Both param = pair.input("param", gaussian(random, n, 0.02));
        Both m = pair.input("m", new float[n]);
        Both v = pair.input("v", new float[n]);
        DecayRanges decay = new DecayRanges(new long[] {40_000, 40_513, n}, new boolean[] {true, false, true});
        for (int step = 1; step <= 3; step++) {
            int t = step;
            Both grad = pair.input("grad" + step, gaussian(random, n, 1e-2));
            pair.run((be, s) -> be.adamw(s.of(param), s.of(grad), s.of(m), s.of(v), decay, 3e-4f, 0.9f, 0.95f, 1e-8f,
                    0.1f, 0.7f, t));
        }
        pair.assertClose("adamw param", param, FP32_TOLERANCE);
        pair.assertClose("adamw m", m, FP32_TOLERANCE);
        pair.assertClose("adamw v", v, FP32_TOLERANCE);
    }
}
