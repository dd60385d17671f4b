package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.sparkmoe.model.backend.cuda.Checks.FP32_TOLERANCE;
import static org.sparkmoe.model.backend.cuda.Checks.gaussian;

import java.lang.reflect.Method;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.sparkmoe.model.backend.cuda.BackendPair.Both;

/**
 * The fused ops of the CUDA backend (residual add + RMSNorm, the RMSNorm backward in one pass, the router's forward
 * and backward, cross-entropy with its loss sum) against the CPU backend on random inputs, fp32 within 1e-5 relative,
 * outputs NaN-poisoned; the kernels that finish a reduction in their last block give the same bits when launched
 * again (their arrival counters are back at zero). Skipped without a GPU.
 */
class CudaFusedOpsTest {

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

    /** Widths from a warp's share to one warp per block in the backward (7,000: 28 KB of dw row). */
    @ParameterizedTest
    @CsvSource({"257, 1280", "3000, 512", "19, 7000", "1, 64", "5, 1282"})
    void residualNormAndNormBackward(int rows, int dim) {
        int n = rows * dim;
        Both x = pair.input("x", gaussian(random, n, 2));
        Both branch = pair.input("branch", gaussian(random, n, 1));
        Both w = pair.input("w", gaussian(random, dim, 1));
        Both sum = pair.output("sum", n);
        Both y = pair.output("y", n);
        Both rstd = pair.output("rstd", rows);
        Both dy = pair.input("dy", gaussian(random, n, 1));
        Both dResid = pair.input("dResid", gaussian(random, n, 1));
        Both dw = pair.input("dw", gaussian(random, dim, 1));
        pair.run((be, s) -> {
            be.rmsNormResidualForward(s.of(x), s.of(branch), s.of(sum), s.of(w), s.of(y), s.of(rstd), rows, dim, 1e-6f);
            be.rmsNormBackward(s.of(dy), s.of(sum), s.of(w), s.of(rstd), s.of(dResid), s.of(dw), rows, dim);
        });
        pair.assertClose("residual sum", sum, FP32_TOLERANCE);
        pair.assertClose("normed sum", y, FP32_TOLERANCE);
        pair.assertClose("rstd", rstd, FP32_TOLERANCE);
        pair.assertClose("norm backward into the residual gradient (+=)", dResid, FP32_TOLERANCE);
        pair.assertClose("norm weight gradient (+=)", dw, FP32_TOLERANCE);
        // the sum written over x, as the engine may keep one residual buffer
        pair.run((be, s) -> be.rmsNormResidualForward(s.of(x), s.of(branch), s.of(x), s.of(w), s.of(y), s.of(rstd),
                rows, dim, 1e-6f));
        pair.assertClose("residual sum over x", x, FP32_TOLERANCE);
        pair.assertClose("normed sum, in place", y, FP32_TOLERANCE);
        // backward computes the layers' norms again with the norm alone on the kept sum: the fused op's very bits
        Both again = pair.output("y again", n);
        Both rstdAgain = pair.output("rstd again", rows);
        pair.run((be, s) -> be.rmsNormForward(s.of(x), s.of(w), s.of(again), s.of(rstdAgain), rows, dim, 1e-6f));
        assertArrayEquals(pair.gpuValues(y), pair.gpuValues(again), "the norm alone on the sum, against the fused op");
        assertArrayEquals(pair.gpuValues(rstd), pair.gpuValues(rstdAgain), "its rstd");
    }

    /** Rows no multiple of a block's 8 warps; experts within one warp's lanes and past two rounds of them. */
    @ParameterizedTest
    @CsvSource({"301, 63, 7, false", "301, 63, 7, true", "77, 130, 12, true", "45, 63, 63, false"})
    void routerForward(int rows, int experts, int k, boolean normalize) {
        Both logits = pair.input("logits", gaussian(random, rows * experts, 2));
        Both probs = pair.output("probs", rows * experts);
        Both idx = pair.intOutput("idx", rows * k);
        Both weight = pair.output("weight", rows * k);
        Both scalars = pair.output("scalars", 3);
        pair.run((be, s) -> {
            be.fill(s.of(scalars), 0f);
            be.routerForward(s.of(logits), s.of(probs), s.of(idx), s.of(weight), rows, experts, k, normalize,
                    s.of(scalars), 1);
        });
        pair.assertClose("router probabilities", probs, FP32_TOLERANCE);
        assertArrayEquals(pair.cpuInts(idx), pair.gpuInts(idx), "router choices");
        pair.assertClose("gate weights", weight, FP32_TOLERANCE);
        pair.assertClose("mean router entropy", scalars, FP32_TOLERANCE);
        float[] first = pair.gpuValues(scalars);
        pair.gpu.routerForward(logits.gpu(), probs.gpu(), idx.gpu(), weight.gpu(), rows, experts, k, normalize,
                scalars.gpu(), 1);
        assertArrayEquals(first, pair.gpuValues(scalars), "mean router entropy of a second launch");
    }

    @ParameterizedTest
    @CsvSource({"true, false, 4", "true, true, 4", "false, false, 1", "false, true, 2"})
    void routerBackward(boolean seqAux, boolean normalize, int deviceGroups) {
        int batch = 3;
        int seqLen = 129;
        int experts = 64;
        int k = 6;
        int rows = batch * seqLen;
        Both logits = pair.input("logits", gaussian(random, rows * experts, 1));
        Both probs = pair.output("probs", rows * experts);
        Both idx = pair.intOutput("idx", rows * k);
        Both weight = pair.output("weight", rows * k);
        Both dWeight = pair.input("dWeight", gaussian(random, rows * k, 1));
        Both dLogits = pair.output("dLogits", rows * experts);
        Both scalars = pair.output("scalars", 3);
        pair.run((be, s) -> {
            be.fill(s.of(scalars), 0f);
            be.routerForward(s.of(logits), s.of(probs), s.of(idx), s.of(weight), rows, experts, k, normalize,
                    s.of(scalars), 2);
            be.routerBackward(s.of(probs), s.of(idx), s.of(weight), s.of(dWeight), s.of(dLogits), batch, seqLen,
                    experts, k, normalize, seqAux, 0.01f, deviceGroups, 0.05f, s.of(scalars), 0);
        });
        assertArrayEquals(pair.cpuInts(idx), pair.gpuInts(idx), "router choices");
        pair.assertClose("router logits gradient", dLogits, FP32_TOLERANCE);
        pair.assertClose("balance losses and entropy", scalars, FP32_TOLERANCE);
        float[] first = pair.gpuValues(scalars);
        pair.gpu.routerBackward(probs.gpu(), idx.gpu(), weight.gpu(), dWeight.gpu(), dLogits.gpu(), batch, seqLen,
                experts, k, normalize, seqAux, 0.01f, deviceGroups, 0.05f, scalars.gpu(), 0);
        assertArrayEquals(first, pair.gpuValues(scalars), "balance losses of a second launch");
    }

    @Test
    void crossEntropyLossSumOfASecondLaunch() {
        int rows = 1000;
        int vocab = 512;
        int[] targets = new int[rows];
        for (int r = 0; r < rows; r++) {
            targets[r] = r % 7 == 0 ? -1 : random.nextInt(vocab);
        }
        Both logits = pair.input("logits", gaussian(random, rows * vocab, 3));
        Both target = pair.ints("targets", targets);
        Both losses = pair.output("losses", rows);
        Both dLogits = pair.output("dLogits", rows * vocab);
        Both scalars = pair.output("scalars", 1);
        pair.run((be, s) -> be.crossEntropy(s.of(logits), s.of(target), s.of(losses), s.of(dLogits), rows, vocab, 1f,
                s.of(scalars), 0));
        pair.assertClose("loss sum", scalars, FP32_TOLERANCE);
        float[] first = pair.gpuValues(scalars);
        pair.gpu.crossEntropy(logits.gpu(), target.gpu(), losses.gpu(), dLogits.gpu(), rows, vocab, 1f, scalars.gpu(), 0);
        assertArrayEquals(first, pair.gpuValues(scalars), "loss sum of a second launch");
    }
}
