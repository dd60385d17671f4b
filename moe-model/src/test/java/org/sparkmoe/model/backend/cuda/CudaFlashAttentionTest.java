package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.sparkmoe.model.backend.cuda.Checks.BF16_TOLERANCE;
import static org.sparkmoe.model.backend.cuda.Checks.gaussian;

import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * The FLASH attention path (tensor-core kernels, bf16 operands, fp32 accumulation) on random inputs, each kernel
 * family (wgmma where the GPU is a Hopper, mma.sync) on the same GPU: forward (out, lse) and backward (dq, dk, dv)
 * against the CPU backend at head dims 64 and 128 and sequence lengths from one row to several tiles, most ending
 * mid-tile, within the bf16 tolerance; against the GEMM path with bf16 operands; two runs
 * give the same bits (no atomics); AUTO takes FLASH or GEMM bit for bit where it should. Outputs are NaN-poisoned
 * first, so a row the kernels skip fails. Skipped without a GPU.
 */
class CudaFlashAttentionTest {

    private static final int BATCH = 2;
    private static final int HEADS = 3;

    static Stream<Arguments> shapes() {
        return Stream.of(FlashKernels.values()).flatMap(kernels -> IntStream.of(64, 128).boxed()
                .flatMap(headDim -> IntStream.of(1, 17, 64, 100, 257, 1024)
                        .mapToObj(seqLen -> Arguments.of(kernels, headDim, seqLen))));
    }

    static Stream<Arguments> familiesAndHeadDims() {
        return Stream.of(FlashKernels.values()).flatMap(kernels -> IntStream.of(64, 128)
                .mapToObj(headDim -> Arguments.of(kernels, headDim)));
    }

    @ParameterizedTest(name = "{0}, head dim {1}, T = {2}")
    @MethodSource("shapes")
    void forwardAndBackwardMatchTheCpuBackend(FlashKernels kernels, int headDim, int seqLen) {
        CudaDevice device = GpuTests.device();
        assumeFamilyBuilt(kernels, device);
        String label = "FLASH hd" + headDim + " T" + seqLen;
        Random random = Checks.seededRandom(label);
        try (BackendPair pair = new BackendPair(CudaBackend.withFlashKernels(device, kernels))) {
            PairedAttention run = PairedAttention.run(pair, random, BATCH, seqLen, HEADS, headDim);
            pair.assertClose("out " + label, run.out(), BF16_TOLERANCE);
            pair.assertClose("lse " + label, run.lse(), BF16_TOLERANCE);
            pair.assertClose("dv " + label, run.dv(), BF16_TOLERANCE);
            if (seqLen > 1) {
                pair.assertClose("dq " + label, run.dq(), BF16_TOLERANCE);
                pair.assertClose("dk " + label, run.dk(), BF16_TOLERANCE);
            } else {
                // One key: P = 1, so dS = dP − delta is 0 in exact arithmetic and dq, dk are rounding noise (dOut is
                // bf16 in dP, fp32 in delta): no relative error exists. They must be small next to dv (= dOut here).
                double dvNorm = norm(pair.cpuValues(run.dv()));
                assertNearZero("dq " + label, pair.gpuValues(run.dq()), dvNorm);
                assertNearZero("dk " + label, pair.gpuValues(run.dk()), dvNorm);
            }
        }
    }

    @ParameterizedTest(name = "{0}, head dim {1}")
    @MethodSource("familiesAndHeadDims")
    void agreesWithTheGemmPathAndRepeatsBitForBit(FlashKernels kernels, int headDim) {
        CudaDevice device = GpuTests.device();
        assumeFamilyBuilt(kernels, device);
        int seqLen = 300;
        Random random = Checks.seededRandom("FLASH vs GEMM hd" + headDim);
        int n = BATCH * seqLen * HEADS * headDim;
        float[][] inputs = {gaussian(random, n, 1), gaussian(random, n, 1), gaussian(random, n, 1),
                gaussian(random, n, 1)};
        try (CudaBackend gemm = new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM);
             CudaBackend flash = CudaBackend.withFlashKernels(device, kernels)) {
            float[][] reference = attention(gemm, inputs, seqLen, headDim);
            float[][] first = attention(flash, inputs, seqLen, headDim);
            float[][] second = attention(flash, inputs, seqLen, headDim);
            String[] names = {"out", "lse", "dq", "dk", "dv"};
            for (int i = 0; i < names.length; i++) {
                Checks.assertClose(names[i] + " FLASH vs GEMM (bf16) hd" + headDim, first[i], reference[i],
                        BF16_TOLERANCE);
                assertArrayEquals(first[i], second[i], names[i] + ": a second FLASH run gave other bits");
            }
        }
    }

    @Test
    void otherHeadDimsAreRefusedNamingTheOnesServed() {
        try (CudaBackend flash = new CudaBackend(GpuTests.device(), GemmPrecision.BF16, AttentionPath.FLASH)) {
            assertTrue(flash.describe().contains("attention: FLASH (bf16 tensor cores, "), flash.describe());
            int n = BATCH * 4 * HEADS * 32;
            float[][] inputs = {new float[n], new float[n], new float[n], new float[n]};
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                    () -> attention(flash, inputs, 4, 32));
            assertTrue(e.getMessage().contains("head dims 64 and 128, not 32")
                    && e.getMessage().contains("cuda-attention=gemm"), e.getMessage());
        }
    }

    @Test
    void autoTakesFlashWhereItServesAndGemmElsewhereBitForBit() {
        CudaDevice device = GpuTests.device();
        Random random = Checks.seededRandom("AUTO attention");
        try (CudaBackend auto = new CudaBackend(device, GemmPrecision.BF16, AttentionPath.AUTO);
             CudaBackend flash = new CudaBackend(device, GemmPrecision.BF16, AttentionPath.FLASH);
             CudaBackend gemm = new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM);
             CudaBackend autoFp32 = new CudaBackend(device, GemmPrecision.FP32, AttentionPath.AUTO);
             CudaBackend gemmFp32 = new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM)) {
            assertTrue(auto.describe().contains("attention: AUTO: FLASH (bf16 tensor cores, "),
                    auto.describe());
            assertTrue(autoFp32.describe().contains("attention: AUTO: GEMM (FP32 GEMM precision"), autoFp32.describe());
            for (int headDim : new int[] {32, 64, 128}) {
                int seqLen = 70;
                int n = BATCH * seqLen * HEADS * headDim;
                float[][] inputs = {gaussian(random, n, 1), gaussian(random, n, 1), gaussian(random, n, 1),
                        gaussian(random, n, 1)};
                CudaBackend expected = headDim == 32 ? gemm : flash;
                assertBitwiseEqual("AUTO (bf16) hd" + headDim, attention(expected, inputs, seqLen, headDim),
                        attention(auto, inputs, seqLen, headDim));
                assertBitwiseEqual("AUTO (fp32) hd" + headDim, attention(gemmFp32, inputs, seqLen, headDim),
                        attention(autoFp32, inputs, seqLen, headDim));
            }
        }
    }

    /** wgmma kernels exist only in an sm_90a build; mma.sync ones run on every GPU from sm_80 on. */
    private static void assumeFamilyBuilt(FlashKernels kernels, CudaDevice device) {
        assumeTrue(kernels != FlashKernels.WGMMA || FlashKernels.forDevice(device.info()) == FlashKernels.WGMMA,
                "the wgmma FLASH kernels need an sm_90a (Hopper) device; this one is " + device.info().architecture());
    }

    private static void assertBitwiseEqual(String what, float[][] expected, float[][] actual) {
        String[] names = {"out", "lse", "dq", "dk", "dv"};
        for (int i = 0; i < names.length; i++) {
            assertArrayEquals(expected[i], actual[i], what + ": " + names[i]);
        }
    }

    /** Forward and backward of one sequence batch on {@code backend}: out, lse, dq, dk, dv downloaded. */
    private static float[][] attention(CudaBackend backend, float[][] qkvdOut, int seqLen, int headDim) {
        int n = qkvdOut[0].length;
        Tensor[] in = new Tensor[4];
        for (int i = 0; i < 4; i++) {
            in[i] = backend.allocate("in" + i, DType.F32, n);
            backend.upload(qkvdOut[i], 0, in[i], 0, n);
        }
        int lseSize = BATCH * HEADS * seqLen;
        Tensor[] outs = {backend.allocate("out", DType.F32, n), backend.allocate("lse", DType.F32, lseSize),
                backend.allocate("dq", DType.F32, n), backend.allocate("dk", DType.F32, n),
                backend.allocate("dv", DType.F32, n)};
        for (Tensor t : outs) {
            backend.fill(t, Float.NaN);
        }
        backend.attentionForward(in[0], in[1], in[2], outs[0], outs[1], BATCH, seqLen, HEADS, headDim);
        backend.attentionBackward(in[3], in[0], in[1], in[2], outs[0], outs[1], outs[2], outs[3], outs[4], BATCH, seqLen,
                HEADS, headDim);
        float[][] result = new float[outs.length][];
        for (int i = 0; i < outs.length; i++) {
            result[i] = new float[i == 1 ? lseSize : n];
            backend.download(outs[i], 0, result[i], 0, result[i].length);
        }
        for (Tensor t : in) {
            backend.free(t);
        }
        for (Tensor t : outs) {
            backend.free(t);
        }
        return result;
    }

    private static void assertNearZero(String what, float[] values, double referenceNorm) {
        double ratio = norm(values) / referenceNorm;
        System.out.printf("%s: norm %.3e of dv's (zero up to rounding; tolerance %.0e)%n", what, ratio, BF16_TOLERANCE);
        assertTrue(ratio <= BF16_TOLERANCE, what + ": norm " + ratio + " of dv's exceeds " + BF16_TOLERANCE);
    }

    private static double norm(float[] x) {
        double sum = 0;
        for (float value : x) {
            sum += (double) value * value;
        }
        return Math.sqrt(sum);
    }
}
