package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparkmoe.model.backend.cuda.Checks.gaussian;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.Tensor;

/**
 * GEMM operands produced for GEMMs ({@link CudaBackend#produceOperands}): the gather into the expert slab, the SwiGLU
 * forward and backward and the combine's backward write bf16 values into the tensors' own memory (fp32 tensors, or
 * tensors that hold GEMM operands only: {@link CudaBackend#allocateOperand}), and the products that read them give the
 * same bits as products of the fp32 outputs cast at their use, at both GEMM precisions; a product reading more than
 * was produced, or writing a produced tensor, is refused, and so is any op on an operand-only tensor but its
 * producers' and its products'. Skipped without a GPU.
 *
 * <p>Legend: R tokens, K experts per token, S = R·K slots, D width, I expert width, G experts. x_RD, slot_RK,
 * weight_RK, slab_SD, dOut_RD, y_SD, dY_SD, dWeight_RK; g_SI, u_SI, h_SI, dH_SI, dG_SI, dU_SI; w_GID, down_GDI.
 */
class CudaProducedOperandsTest {

    private static final int R = 96;
    private static final int K = 3;
    private static final int S = R * K;
    private static final int D = 128;
    private static final int I = 64;
    /** Rows of each of the 4 experts, expert-major over the slab's S rows. */
    private static final int[] GROUP_ROWS = {100, 0, 130, 58};

    @ParameterizedTest
    @EnumSource(GemmPrecision.class)
    void producedProductsEqualProductsOfCastOutputs(GemmPrecision precision) {
        try (CudaBackend backend = new CudaBackend(GpuTests.device(), precision, AttentionPath.GEMM,
                GroupedGemmPath.AUTO)) {
            float[][] cast = products(backend, false, false);
            float[][] produced = products(backend, true, false);
            float[][] operandsOnly = products(backend, true, true);
            for (int i = 0; i < cast.length; i++) {
                assertArrayEquals(cast[i], produced[i], "output " + i + " differs when its operands are produced ("
                        + precision + ")");
                assertArrayEquals(cast[i], operandsOnly[i], "output " + i + " differs when its operands are produced"
                        + " into tensors that hold only them (allocateOperand, " + precision + ")");
            }
        }
    }

    @Test
    void aProductReadingMoreThanWasProducedOrWritingAProducedTensorIsRefused() {
        try (CudaBackend backend = new CudaBackend(GpuTests.device(), GemmPrecision.BF16, AttentionPath.GEMM,
                GroupedGemmPath.OWN)) {
            Random random = Checks.seededRandom("produced operands refused");
            Tensor g = Checks.upload(backend, "g", gaussian(random, S * I, 1));
            Tensor u = Checks.upload(backend, "u", gaussian(random, S * I, 1));
            Tensor w = Checks.upload(backend, "w", gaussian(random, D * I, 1));
            Tensor h = backend.allocate("h", DType.F32, (long) S * I);
            Tensor y = backend.allocate("y", DType.F32, (long) S * D);
            try (HeldOperands _ = backend.produceOperands(h)) {
                backend.swigluForward(g, u, h, (long) (S / 2) * I);
                IllegalStateException more = assertThrows(IllegalStateException.class,
                        () -> backend.matmulNT(S, D, I, h, w, y, false));
                assertTrue(more.getMessage().contains("elements of h, produced for GEMMs"), more.getMessage());
                IllegalStateException write = assertThrows(IllegalStateException.class,
                        () -> backend.matmulNT(S / 2, I, D, y, w, h, false));
                assertTrue(write.getMessage().contains("GEMM output h overlaps h"), write.getMessage());
            }
            Tensor operands = backend.allocateOperand("operands", (long) S * I);
            IllegalStateException fill = assertThrows(IllegalStateException.class, () -> backend.fill(operands, 0f));
            assertTrue(fill.getMessage().contains("operands holds bf16 GEMM operands only"), fill.getMessage());
            IllegalStateException unproduced = assertThrows(IllegalStateException.class,
                    () -> backend.matmulNT(S, D, I, operands, w, y, false));
            assertTrue(unproduced.getMessage().contains("outside a produceOperands scope"), unproduced.getMessage());
            IllegalStateException fp32Write = assertThrows(IllegalStateException.class,
                    () -> backend.swigluForward(g, u, operands, (long) S * I));
            assertTrue(fp32Write.getMessage().contains("operands holds bf16 GEMM operands only"),
                    fp32Write.getMessage());
        }
    }

    /**
     * The MoE layer's producers and the products that read their outputs, each producer's output produced for GEMMs
     * (into tensors that hold GEMM operands only, if {@code operandTensors}) or written in fp32: the products' outputs
     * and the combine's gate gradient.
     */
    private static float[][] products(CudaBackend backend, boolean produce, boolean operandTensors) {
        Random random = Checks.seededRandom("produced operands");
        Tensor x = Checks.upload(backend, "x", gaussian(random, R * D, 1));
        Tensor dOut = Checks.upload(backend, "dOut", gaussian(random, R * D, 1));
        Tensor ys = Checks.upload(backend, "ys", gaussian(random, S * D, 1));
        Tensor weight = Checks.upload(backend, "weight", gaussian(random, R * K, 0.3));
        Tensor g = Checks.upload(backend, "g", gaussian(random, S * I, 1));
        Tensor u = Checks.upload(backend, "u", gaussian(random, S * I, 1));
        Tensor dH = Checks.upload(backend, "dH", gaussian(random, S * I, 1));
        Tensor gate = Checks.upload(backend, "gate", gaussian(random, GROUP_ROWS.length * I * D, 0.1));
        Tensor down = Checks.upload(backend, "down", gaussian(random, GROUP_ROWS.length * D * I, 0.1));
        Tensor slot = backend.allocate("slot", DType.I32, (long) S);
        backend.uploadInts(permutation(random, S), 0, slot, 0, S);
        Tensor slab = produced(backend, operandTensors, "slab", (long) S * D);
        Tensor h = produced(backend, operandTensors, "h", (long) S * I);
        Tensor dG = produced(backend, operandTensors, "dG", (long) S * I);
        Tensor dU = produced(backend, operandTensors, "dU", (long) S * I);
        Tensor dY = produced(backend, operandTensors, "dY", (long) S * D);
        Tensor dWeight = backend.allocate("dWeight", DType.F32, (long) S);
        Tensor[] out = {backend.allocate("gs", DType.F32, (long) S * I),
                backend.allocate("ys down", DType.F32, (long) S * D),
                backend.allocate("dGate", DType.F32, (long) GROUP_ROWS.length * I * D),
                backend.allocate("dXs", DType.F32, (long) S * D),
                backend.allocate("dDown", DType.F32, (long) GROUP_ROWS.length * D * I), dWeight};
        try (HeldOperands _ = scope(backend, produce, slab)) {
            backend.dispatchRows(x, slot, slab, R, K, D);
            backend.groupedMatmulNT(GROUP_ROWS, I, D, slab, gate, out[0], false);
        }
        try (HeldOperands _ = scope(backend, produce, h)) {
            backend.swigluForward(g, u, h, (long) S * I);
            backend.groupedMatmulNT(GROUP_ROWS, D, I, h, down, out[1], false);
        }
        try (HeldOperands _ = scope(backend, produce, h, dG, dU)) {
            backend.swigluBackward(dH, g, u, h, dG, dU, (long) S * I);
            backend.groupedMatmulTN(GROUP_ROWS, I, D, dG, ys, out[2], false);
            backend.matmulNN(S, D, I, dG, gate, out[3], false);
            backend.matmulNN(S, D, I, dU, gate, out[3], true);
        }
        try (HeldOperands _ = scope(backend, produce, dY)) {
            backend.combineBackward(dOut, ys, slot, weight, dY, dWeight, R, K, D);
            backend.groupedMatmulTN(GROUP_ROWS, D, I, dY, g, out[4], false);
        }
        float[][] result = Checks.downloadAndFree(backend, out);
        for (Tensor t : new Tensor[] {x, dOut, ys, weight, g, u, dH, gate, down, slot, slab, h, dG, dU, dY}) {
            backend.free(t);
        }
        return result;
    }

    private static Tensor produced(CudaBackend backend, boolean operandTensor, String name, long elements) {
        return operandTensor ? backend.allocateOperand(name, elements) : backend.allocate(name, DType.F32, elements);
    }

    private static HeldOperands scope(CudaBackend backend, boolean produce, Tensor... tensors) {
        return produce ? backend.produceOperands(tensors) : HeldOperands.NONE;
    }

    /** Slots 0 .. n-1 in a random order: every slab row written once. */
    private static int[] permutation(Random random, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
