package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparkmoe.model.backend.cuda.Checks.gaussian;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.Tensor;

/**
 * Operands held unwritten ({@link CudaBackend#holdOperands}) at bf16 precision: the products inside the scope read
 * one bf16 copy per held activation and give the same bits as products that cast their operands each time, for the
 * dense GEMMs and our own grouped GEMMs alike; a product writing a held tensor is refused. Skipped without a GPU.
 *
 * <p>Legend: x_RD, w_ND and the experts' w_GND, y_RN, dy_RN.
 */
class CudaHeldOperandsTest {

    @Test
    void heldProductsEqualProductsThatCastEachTime() {
        int rows = 300;
        int n = 96;
        int d = 128;
        int[] groupRows = {100, 0, 150, 50};
        try (CudaBackend backend = new CudaBackend(GpuTests.device(), GemmPrecision.BF16, AttentionPath.GEMM,
                GroupedGemmPath.OWN)) {
            Random random = Checks.seededRandom("held operands");
            Tensor x = Checks.upload(backend, "x", gaussian(random, rows * d, 1));
            Tensor dy = Checks.upload(backend, "dy", gaussian(random, rows * n, 1));
            Tensor w = Checks.upload(backend, "w", gaussian(random, n * d, 1));
            Tensor experts = Checks.upload(backend, "experts", gaussian(random, groupRows.length * n * d, 1));
            float[][] each = products(backend, groupRows, rows, n, d, x, dy, w, experts, false);
            float[][] held = products(backend, groupRows, rows, n, d, x, dy, w, experts, true);
            for (int i = 0; i < each.length; i++) {
                assertArrayEquals(each[i], held[i], "product " + i + " differs when its operands are held");
            }
            Tensor y = backend.allocate("y", DType.F32, (long) rows * n);
            try (HeldOperands _ = backend.holdOperands(x, y)) {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> backend.groupedMatmulNT(groupRows, n, d, x, experts, y, false));
                assertTrue(e.getMessage().contains("GEMM output y overlaps y"), e.getMessage());
            }
        }
    }

    /** Dense NT, NN, TN and grouped NT, TN, NN over x and dy, with x and dy held or not. */
    private static float[][] products(CudaBackend backend, int[] groupRows, int rows, int n, int d, Tensor x, Tensor dy,
            Tensor w, Tensor experts, boolean hold) {
        Tensor[] out = {backend.allocate("y", DType.F32, (long) rows * n),
                backend.allocate("dx", DType.F32, (long) rows * d), backend.allocate("dw", DType.F32, (long) n * d),
                backend.allocate("ys", DType.F32, (long) rows * n),
                backend.allocate("dws", DType.F32, (long) groupRows.length * n * d),
                backend.allocate("dxs", DType.F32, (long) rows * d)};
        try (HeldOperands _ = hold ? backend.holdOperands(x, dy) : HeldOperands.NONE) {
            backend.matmulNT(rows, n, d, x, w, out[0], false);
            backend.matmulNN(rows, d, n, dy, w, out[1], false);
            backend.matmulTN(n, d, rows, dy, x, out[2], false);
            backend.groupedMatmulNT(groupRows, n, d, x, experts, out[3], false);
            backend.groupedMatmulTN(groupRows, n, d, dy, x, out[4], false);
            backend.groupedMatmulNN(groupRows, n, d, dy, experts, out[5], false);
        }
        return Checks.downloadAndFree(backend, out);
    }
}
