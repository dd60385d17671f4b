package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.sparkmoe.model.backend.cuda.Checks.BF16_TOLERANCE;
import static org.sparkmoe.model.backend.cuda.Checks.gaussian;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cuda.BackendPair.Both;
import org.sparkmoe.model.testing.BalancedRouting;

/**
 * Our grouped GEMM kernels ({@link GroupedGemmPath#OWN}) against the CPU backend: the forward (NT), input gradient
 * (NN) and weight gradient (TN) with experts without rows, row counts that are no multiple of the 128-row tile,
 * overwriting and accumulating, widths that are no multiple of 8 (the element-wise kernels), DeepSeekMoE's
 * fine-grained 63 experts of 176 x 256 with their weight gradients split along the rows and their weights read from
 * a parameter arena's bf16 image. Random fp32 inputs agree within the bf16 tolerance; inputs that are bf16 values
 * already agree within 1e-4 (the kernels round nothing else: fp32 accumulation, fp32 outputs; the tensor cores'
 * fp32 additions may round differently from IEEE over up to ~200 steps), which no single wrong element of a
 * 10⁵-element output passes. A second run gives the same bits. Refused at fp32 GEMM precision. Each case runs on
 * both kernel families where the GPU has them (wgmma on Hopper, mma.sync from sm_80 on). Skipped without a GPU.
 *
 * <p>Legend: R slab rows, G experts, x_RK, dy_RN, w_GNK.
 */
class CudaDeviceGroupedGemmTest {

    private static final int[] UNEVEN = {37, 0, 91, 5, 300, 1, 0, 257};
    /** bf16-valued operands: only the order and rounding of fp32 accumulation differ from the CPU backend. */
    private static final double FP32_ACCUMULATION_TOLERANCE = 1e-4;

    static Stream<Arguments> shapes() {
        return Stream.of(cases()).flatMap(c -> Arrays.stream(GroupedGemmKernels.values())
                .map(kernels -> Arguments.of(c[0], c[1], c[2], c[3], kernels)));
    }

    private static Object[][] cases() {
        return new Object[][] {
                {"uneven rows, 96 x 160", UNEVEN, 96, 160},
                {"odd widths 37 x 45 (element-wise loads)", new int[] {33, 0, 70, 1, 129}, 37, 45},
                {"16 experts of 704 x 256 (cmp-gshard), balanced top-2 of 700 tokens",
                        BalancedRouting.rowsPerExpert(new Random(16), 16, 700, 2), 704, 256},
                {"few experts with long rows, 64 x 72 (weight gradients in 3 slices)",
                        new int[] {2_000, 0, 1_500, 1}, 64, 72},
                {"val-2b's expert size 864 x 1280 (20 inner steps of 64)", new int[] {300, 0, 129, 700}, 864, 1280},
                {"all experts empty", new int[] {0, 0, 0}, 64, 32}};
    }

    @ParameterizedTest(name = "{0}, {4}")
    @MethodSource("shapes")
    void productsMatchTheCpuBackend(String name, int[] groupRows, int n, int k, GroupedGemmKernels kernels) {
        checkProducts(name + ", fp32 inputs", groupRows, n, k, kernels, false, BF16_TOLERANCE);
    }

    @ParameterizedTest(name = "{0}, {4}")
    @MethodSource("shapes")
    void bf16InputsMatchTheCpuBackendToFp32Rounding(String name, int[] groupRows, int n, int k,
            GroupedGemmKernels kernels) {
        checkProducts(name + ", bf16-valued inputs", groupRows, n, k, kernels, true, FP32_ACCUMULATION_TOLERANCE);
    }

    /** A backend on {@code kernels}, or the test skipped where the GPU lacks them. */
    private static CudaBackend backend(GroupedGemmKernels kernels) {
        CudaDevice device = GpuTests.device();
        assumeTrue(kernels != GroupedGemmKernels.WGMMA
                        || GroupedGemmKernels.forDevice(device.info()) == GroupedGemmKernels.WGMMA,
                "the wgmma kernels need a Hopper GPU; this one is " + device.info().architecture());
        return CudaBackend.withGroupedKernels(device, kernels);
    }

    /** Every product overwriting (NaN-poisoned outputs) and accumulating into random outputs. */
    private static void checkProducts(String what, int[] groupRows, int n, int k, GroupedGemmKernels kernels,
            boolean bf16Values, double tolerance) {
        try (BackendPair pair = new BackendPair(backend(kernels))) {
            Random random = Checks.seededRandom("own grouped GEMM " + what);
            int rows = sum(groupRows);
            int groups = groupRows.length;
            Both x = pair.input("x", values(random, rows * k, bf16Values));
            Both w = pair.input("w", values(random, groups * n * k, bf16Values));
            Both dy = pair.input("dy", values(random, rows * n, bf16Values));
            Both y = pair.output("y", rows * n);
            Both yAcc = pair.input("yAcc", gaussian(random, rows * n, 1));
            Both dx = pair.output("dx", rows * k);
            Both dxAcc = pair.input("dxAcc", gaussian(random, rows * k, 1));
            Both dw = pair.output("dw", groups * n * k);
            Both dwAcc = pair.input("dwAcc", gaussian(random, groups * n * k, 1));
            pair.run((be, s) -> {
                be.groupedMatmulNT(groupRows, n, k, s.of(x), s.of(w), s.of(y), false);
                be.groupedMatmulNT(groupRows, n, k, s.of(x), s.of(w), s.of(yAcc), true);
                be.groupedMatmulNN(groupRows, n, k, s.of(dy), s.of(w), s.of(dx), false);
                be.groupedMatmulNN(groupRows, n, k, s.of(dy), s.of(w), s.of(dxAcc), true);
                be.groupedMatmulTN(groupRows, n, k, s.of(dy), s.of(x), s.of(dw), false);
                be.groupedMatmulTN(groupRows, n, k, s.of(dy), s.of(x), s.of(dwAcc), true);
            });
            assertTrue(pair.gpu.describe().contains("grouped: own kernels (" + kernels.instructions()),
                    pair.gpu.describe());
            pair.assertClose(what + ": NT (forward)", y, tolerance);
            pair.assertClose(what + ": NT accumulate", yAcc, tolerance);
            pair.assertClose(what + ": NN (input gradient)", dx, tolerance);
            pair.assertClose(what + ": NN accumulate", dxAcc, tolerance);
            pair.assertClose(what + ": TN (weight gradient, empty experts zeroed)", dw, tolerance);
            pair.assertClose(what + ": TN accumulate", dwAcc, tolerance);
        }
    }

    /**
     * cmp-deepseekmoe's routed experts (63 of 176 x 256) over a balanced top-7 routing of 8,192 tokens plus an empty
     * expert, a single-row one and a long one: the weight gradients split along the rows, the weights (gate [G, I, D]
     * and down [G, D, I]) read from the bf16 image of a parameter arena at an offset inside it.
     */
    @ParameterizedTest
    @EnumSource(GroupedGemmKernels.class)
    void fineGrainedExpertsWithSplitWeightGradientsAndWeightImages(GroupedGemmKernels kernels) {
        int groups = 63;
        int width = 176;
        int dim = 256;
        int[] groupRows = BalancedRouting.rowsPerExpert(new Random(63), groups, 8_192, 7);
        groupRows[5] = 0;
        groupRows[11] = 1;
        groupRows[40] = 3_000;
        int rows = sum(groupRows);
        int slices = DeviceGroupedGemm.slices(groups, width, dim, rows, GpuTests.device().info().multiprocessors());
        assertTrue(slices > 1, "these shapes must take the split path: " + slices + " slice(s)");
        try (BackendPair pair = new BackendPair(backend(kernels))) {
            Random random = Checks.seededRandom("own grouped GEMM fine-grained");
            long weights = (long) groups * width * dim;
            float[] arena = gaussian(random, (int) (2 * weights + 128), 1);
            Tensor gpuArena = pair.gpu.allocateParameters("arena", arena.length);
            Tensor cpuArena = pair.cpu.allocateParameters("arena", arena.length);
            pair.gpu.upload(arena, 0, gpuArena, 0, arena.length);
            pair.cpu.upload(arena, 0, cpuArena, 0, arena.length);
            Both gate = new Both(pair.gpu.view(gpuArena, "gate", 128, weights),
                    pair.cpu.view(cpuArena, "gate", 128, weights), (int) weights);
            Both down = new Both(pair.gpu.view(gpuArena, "down", 128 + weights, weights),
                    pair.cpu.view(cpuArena, "down", 128 + weights, weights), (int) weights);
            Both xs = pair.input("xs", gaussian(random, rows * dim, 1));
            Both hs = pair.input("hs", gaussian(random, rows * width, 1));
            Both dYs = pair.input("dYs", gaussian(random, rows * dim, 1));
            Both gs = pair.output("gs", rows * width);
            Both ys = pair.output("ys", rows * dim);
            Both dHs = pair.output("dHs", rows * width);
            Both dXs = pair.input("dXs", gaussian(random, rows * dim, 1));
            Both dDown = pair.output("dDown", (int) weights);
            Both dGate = pair.input("dGate", gaussian(random, (int) weights, 1));
            pair.run((be, s) -> {
                be.groupedMatmulNT(groupRows, width, dim, s.of(xs), s.of(gate), s.of(gs), false);
                be.groupedMatmulNT(groupRows, dim, width, s.of(hs), s.of(down), s.of(ys), false);
                be.groupedMatmulNN(groupRows, dim, width, s.of(dYs), s.of(down), s.of(dHs), false);
                be.groupedMatmulNN(groupRows, width, dim, s.of(hs), s.of(gate), s.of(dXs), true);
                be.groupedMatmulTN(groupRows, dim, width, s.of(dYs), s.of(hs), s.of(dDown), false);
                be.groupedMatmulTN(groupRows, width, dim, s.of(hs), s.of(xs), s.of(dGate), true);
            });
            pair.assertClose("fine-grained NT gate", gs, BF16_TOLERANCE);
            pair.assertClose("fine-grained NT down", ys, BF16_TOLERANCE);
            pair.assertClose("fine-grained NN through down", dHs, BF16_TOLERANCE);
            pair.assertClose("fine-grained NN through gate, accumulate", dXs, BF16_TOLERANCE);
            pair.assertClose("fine-grained TN down (" + slices + " slices)", dDown, BF16_TOLERANCE);
            pair.assertClose("fine-grained TN gate, accumulate (" + slices + " slices)", dGate, BF16_TOLERANCE);
        }
    }

    /** The same inputs twice give the same bits: no float atomics, a fixed order for the split weight gradients. */
    @ParameterizedTest
    @EnumSource(GroupedGemmKernels.class)
    void aSecondRunGivesTheSameBits(GroupedGemmKernels kernels) {
        int groups = 63;
        int n = 176;
        int k = 256;
        int[] groupRows = BalancedRouting.rowsPerExpert(new Random(7), groups, 8_192, 7);
        int rows = sum(groupRows);
        assertTrue(DeviceGroupedGemm.slices(groups, n, k, rows, GpuTests.device().info().multiprocessors()) > 1,
                "the weight gradients take the split path");
        try (CudaBackend backend = backend(kernels)) {
            Random random = Checks.seededRandom("own grouped GEMM determinism");
            Tensor x = Checks.upload(backend, "x", gaussian(random, rows * k, 1));
            Tensor w = Checks.upload(backend, "w", gaussian(random, groups * n * k, 1));
            Tensor dy = Checks.upload(backend, "dy", gaussian(random, rows * n, 1));
            float[][] first = products(backend, groupRows, n, k, x, w, dy);
            float[][] second = products(backend, groupRows, n, k, x, w, dy);
            String[] names = {"NT", "NN", "TN"};
            for (int i = 0; i < names.length; i++) {
                assertArrayEquals(bits(first[i]), bits(second[i]), names[i] + " differs between two runs");
            }
            System.out.println("own grouped GEMM (" + kernels + "): NT, NN, TN bit for bit equal over two runs");
        }
    }

    @Test
    void fp32PrecisionIsRefusedNamingTheOtherPath() {
        CudaDevice device = GpuTests.device();
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM, GroupedGemmPath.OWN));
        assertTrue(e.getMessage().contains("cuda-grouped-gemm=cublas"), e.getMessage());
    }

    private static float[][] products(Backend backend, int[] groupRows, int n, int k, Tensor x, Tensor w, Tensor dy) {
        int rows = sum(groupRows);
        Tensor y = backend.allocate("y", DType.F32, (long) rows * n);
        Tensor dx = backend.allocate("dx", DType.F32, (long) rows * k);
        Tensor dw = backend.allocate("dw", DType.F32, (long) groupRows.length * n * k);
        backend.groupedMatmulNT(groupRows, n, k, x, w, y, false);
        backend.groupedMatmulNN(groupRows, n, k, dy, w, dx, false);
        backend.groupedMatmulTN(groupRows, n, k, dy, x, dw, false);
        return Checks.downloadAndFree(backend, y, dx, dw);
    }

    private static int[] bits(float[] values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return bits;
    }

    /** Gaussian values, rounded to bf16 when asked (then the kernels' operand copies are exact). */
    private static float[] values(Random random, int n, boolean bf16) {
        float[] x = gaussian(random, n, 1);
        if (bf16) {
            for (int i = 0; i < n; i++) {
                x[i] = Bf16.round(x[i]);
            }
        }
        return x;
    }

    private static int sum(int[] values) {
        int s = 0;
        for (int v : values) {
            s += v;
        }
        return s;
    }
}
