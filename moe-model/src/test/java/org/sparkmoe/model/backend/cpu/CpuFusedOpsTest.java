package org.sparkmoe.model.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * Every fused op of the CPU backend against the unfused ops it replaces, run in order on the same inputs: the fused
 * op does the same float operations in the same order, so the results are equal bit for bit (which keeps the
 * engine's CPU losses those of the unfused step). Widths that are no multiple of the vector length on purpose.
 */
class CpuFusedOpsTest {

    static final CpuBackend BACKEND = new CpuBackend(2);
    static final SplittableRandom RANDOM = new SplittableRandom(7);

    @AfterAll
    static void close() {
        BACKEND.close();
    }

    static Tensor input(int n, double scale) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) (RANDOM.nextGaussian() * scale);
        }
        Tensor t = BACKEND.allocate("input", DType.F32, n);
        BACKEND.upload(values, 0, t, 0, n);
        return t;
    }

    static Tensor zeros(int n) {
        return BACKEND.allocate("out", DType.F32, n);
    }

    static float[] values(Tensor t) {
        float[] out = new float[(int) t.size()];
        BACKEND.download(t, 0, out, 0, out.length);
        return out;
    }

    static int[] ints(Tensor t) {
        int[] out = new int[(int) t.size()];
        BACKEND.downloadInts(t, 0, out, 0, out.length);
        return out;
    }

    @ParameterizedTest
    @CsvSource({"7, 37", "33, 512", "5, 1280"})
    void residualNormEqualsAddThenNorm(int rows, int dim) {
        int n = rows * dim;
        Tensor x = input(n, 1);
        Tensor branch = input(n, 0.5);
        Tensor w = input(dim, 1);
        Tensor sum = zeros(n);
        Tensor y = zeros(n);
        Tensor rstd = zeros(rows);
        BACKEND.rmsNormResidualForward(x, branch, sum, w, y, rstd, rows, dim, 1e-6f);
        Tensor sumApart = zeros(n);
        Tensor yApart = zeros(n);
        Tensor rstdApart = zeros(rows);
        BACKEND.add(x, branch, sumApart);
        BACKEND.rmsNormForward(sumApart, w, yApart, rstdApart, rows, dim, 1e-6f);
        assertArrayEquals(values(sumApart), values(sum), "residual sum");
        assertArrayEquals(values(yApart), values(y), "normed sum");
        assertArrayEquals(values(rstdApart), values(rstd), "reciprocal RMS");
        // in place over the residual, as a caller may keep one buffer for it
        BACKEND.rmsNormResidualForward(x, branch, x, w, y, rstd, rows, dim, 1e-6f);
        assertArrayEquals(values(sumApart), values(x), "residual sum written over x");
        assertArrayEquals(values(yApart), values(y), "normed sum, in place");
    }

    /** Forward and backward, with k = E (an ablation's widest top-K) in the forward. */
    @ParameterizedTest
    @CsvSource({"false, true, 1", "true, true, 1", "false, false, 3", "true, false, 3"})
    void routerOpsEqualTheirParts(boolean normalize, boolean seqAux, int deviceGroups) {
        int batch = 3;
        int seqLen = 11;
        int rows = batch * seqLen;
        int experts = 9;
        int k = 3;
        Tensor logits = input(rows * experts, 2);
        Tensor probs = zeros(rows * experts);
        Tensor idx = BACKEND.allocate("idx", DType.I32, rows * k);
        Tensor weight = zeros(rows * k);
        Tensor scalars = zeros(4);
        BACKEND.routerForward(logits, probs, idx, weight, rows, experts, k, normalize, scalars, 3);
        Tensor probsApart = zeros(rows * experts);
        Tensor idxApart = BACKEND.allocate("idx", DType.I32, rows * k);
        Tensor weightApart = zeros(rows * k);
        Tensor scalarsApart = zeros(4);
        BACKEND.softmaxRows(logits, probsApart, rows, experts);
        BACKEND.topK(probsApart, idxApart, weightApart, rows, experts, k, normalize);
        BACKEND.routerEntropy(probsApart, rows, experts, scalarsApart, 3);
        assertArrayEquals(values(probsApart), values(probs), "router probabilities");
        assertArrayEquals(ints(idxApart), ints(idx), "router choices");
        assertArrayEquals(values(weightApart), values(weight), "gate weights");

        Tensor dWeight = input(rows * k, 1);
        Tensor dLogits = zeros(rows * experts);
        BACKEND.routerBackward(probs, idx, weight, dWeight, dLogits, batch, seqLen, experts, k, normalize, seqAux,
                0.01f, deviceGroups, 0.05f, scalars, 0);
        Tensor dProbs = zeros(rows * experts);
        Tensor dLogitsApart = zeros(rows * experts);
        BACKEND.topKBackward(probs, idx, weight, dWeight, dProbs, rows, experts, k, normalize);
        BACKEND.balanceLoss(probs, idx, dProbs, batch, seqLen, experts, k, seqAux, 0.01f, deviceGroups, 0.05f,
                scalarsApart, 0);
        BACKEND.softmaxRowsBackward(probs, dProbs, dLogitsApart, rows, experts);
        assertArrayEquals(values(dLogitsApart), values(dLogits), "router logits gradient");
        assertArrayEquals(values(scalarsApart), values(scalars), "balance losses and entropy");

        Tensor wideIdx = BACKEND.allocate("idx", DType.I32, rows * experts);
        Tensor wideWeight = zeros(rows * experts);
        Tensor wideIdxApart = BACKEND.allocate("idx", DType.I32, rows * experts);
        Tensor wideWeightApart = zeros(rows * experts);
        BACKEND.routerForward(logits, probs, wideIdx, wideWeight, rows, experts, experts, normalize, scalars, 3);
        BACKEND.topK(probsApart, wideIdxApart, wideWeightApart, rows, experts, experts, normalize);
        assertArrayEquals(ints(wideIdxApart), ints(wideIdx), "every expert ranked");
        assertArrayEquals(values(wideWeightApart), values(wideWeight), "every expert's gate weight");
    }

    @ParameterizedTest
    @ValueSource(ints = {9, 8192})
    void crossEntropyWritesTheSumOfItsLosses(int vocab) {
        int rows = 13;
        int[] targets = new int[rows];
        for (int r = 0; r < rows; r++) {
            targets[r] = r % 5 == 0 ? -1 : RANDOM.nextInt(vocab);
        }
        Tensor targetsT = BACKEND.allocate("targets", DType.I32, rows);
        BACKEND.uploadInts(targets, 0, targetsT, 0, rows);
        Tensor logits = input(rows * vocab, 3);
        Tensor losses = zeros(rows);
        Tensor scalars = zeros(2);
        BACKEND.crossEntropy(logits, targetsT, losses, logits, rows, vocab, 0.5f, scalars, 1);
        Tensor summed = zeros(2);
        BACKEND.sum(losses, summed, 1);
        assertArrayEquals(values(summed), values(scalars), "loss sum");
    }
}
