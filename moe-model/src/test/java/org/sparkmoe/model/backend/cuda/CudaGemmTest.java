package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sparkmoe.model.backend.cuda.Checks.BF16_TOLERANCE;
import static org.sparkmoe.model.backend.cuda.Checks.FP32_TOLERANCE;
import static org.sparkmoe.model.backend.cuda.Checks.gaussian;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sparkmoe.model.backend.cuda.BackendPair.Both;

/**
 * The CUDA backend's cuBLAS GEMMs (plain and grouped per expert, every transpose case, overwrite and accumulate, the
 * weight gradients split along the rows) against the CPU backend: fp32 operands within 1e-5, bf16 operands within
 * bf16 tolerance. Skipped without a GPU.
 */
class CudaGemmTest {

    private static double tolerance(GemmPrecision precision) {
        return precision == GemmPrecision.FP32 ? FP32_TOLERANCE : BF16_TOLERANCE;
    }

    @ParameterizedTest
    @EnumSource(GemmPrecision.class)
    void plainGemmsInEveryTransposeCase(GemmPrecision precision) {
        try (BackendPair pair = new BackendPair(precision)) {
            Random random = Checks.seededRandom("gemm " + precision);
            int m = 253;
            int n = 301;
            int k = 347;
            Both a = pair.input("a", gaussian(random, m * k, 1));
            Both b = pair.input("b", gaussian(random, k * n, 1));
            Both cNN = pair.output("cNN", m * n);
            Both cNT = pair.input("cNT", gaussian(random, m * n, 1));
            Both cTN = pair.output("cTN", m * n);
            pair.run((be, s) -> {
                be.matmulNN(m, n, k, s.of(a), s.of(b), s.of(cNN), false);
                be.matmulNT(m, n, k, s.of(a), s.of(b), s.of(cNT), true);
                be.matmulTN(m, n, k, s.of(a), s.of(b), s.of(cTN), false);
            });
            pair.assertClose("NN " + precision, cNN, tolerance(precision));
            pair.assertClose("NT accumulate " + precision, cNT, tolerance(precision));
            pair.assertClose("TN " + precision, cTN, tolerance(precision));
        }
    }

    @ParameterizedTest
    @EnumSource(GemmPrecision.class)
    void groupedGemmsPerExpertWithAnEmptyExpert(GemmPrecision precision) {
        try (BackendPair pair = new BackendPair(precision)) {
            Random random = Checks.seededRandom("grouped gemm " + precision);
            int[] groupRows = {37, 0, 91, 5, 64, 1, 0, 120};
            int rows = 0;
            for (int r : groupRows) {
                rows += r;
            }
            int groups = groupRows.length;
            int n = 96;
            int k = 160;
            Both x = pair.input("x", gaussian(random, rows * k, 1));
            Both w = pair.input("w", gaussian(random, groups * n * k, 1));
            Both y = pair.output("y", rows * n);
            Both dy = pair.input("dy", gaussian(random, rows * n, 1));
            Both dx = pair.input("dx", gaussian(random, rows * k, 1));
            Both dw = pair.output("dw", groups * n * k);
            int total = rows;
            pair.run((be, s) -> {
                be.groupedMatmulNT(groupRows, n, k, s.of(x), s.of(w), s.of(y), false);
                be.groupedMatmulNN(groupRows, n, k, s.of(dy), s.of(w), s.of(dx), true);
                be.groupedMatmulTN(groupRows, n, k, s.of(dy), s.of(x), s.of(dw), false);
            });
            pair.assertClose("grouped NT (forward) " + precision + ", " + total + " rows", y, tolerance(precision));
            pair.assertClose("grouped NN accumulate (input gradient) " + precision, dx, tolerance(precision));
            pair.assertClose("grouped TN (weight gradient, empty experts zeroed) " + precision, dw, tolerance(precision));
        }
    }

    /**
     * DeepSeekMoE-sized weight gradients (63 experts of 176 x 256) over inner dimensions long enough that the bf16 path
     * splits them along the rows: uneven experts, one without rows, one with a single row and one shorter than a
     * chunk; overwriting and accumulating.
     */
    @ParameterizedTest
    @EnumSource(GemmPrecision.class)
    void fineGrainedWeightGradientsSplitAlongTheRows(GemmPrecision precision) {
        try (BackendPair pair = new BackendPair(precision)) {
            Random random = Checks.seededRandom("split weight gradients " + precision);
            int groups = 63;
            int n = 176;
            int k = 256;
            int[] groupRows = new int[groups];
            for (int g = 0; g < groups; g++) {
                groupRows[g] = 400 + random.nextInt(700);
            }
            groupRows[5] = 0;
            groupRows[11] = 1;
            groupRows[17] = 57;
            groupRows[40] = 2_000;
            List<GroupedGemm.Problem> problems = new ArrayList<>();
            int rows = 0;
            for (int r : groupRows) {
                if (r > 0) {
                    problems.add(new GroupedGemm.Problem(n, k, r, 0, 0, 0));
                }
                rows += r;
            }
            SplitK split = SplitK.plan(problems, GpuTests.device().info().multiprocessors());
            assertTrue(split.partials() > 1, "these shapes must take the split path: " + split);
            Both dy = pair.input("dy", gaussian(random, rows * n, 1));
            Both x = pair.input("x", gaussian(random, rows * k, 1));
            Both dw = pair.output("dw", groups * n * k);
            Both dwAccumulated = pair.input("dwAccumulated", gaussian(random, groups * n * k, 1));
            pair.run((be, s) -> {
                be.groupedMatmulTN(groupRows, n, k, s.of(dy), s.of(x), s.of(dw), false);
                be.groupedMatmulTN(groupRows, n, k, s.of(dy), s.of(x), s.of(dwAccumulated), true);
            });
            pair.assertClose("split TN (" + split.partials() + " partials) " + precision, dw, tolerance(precision));
            pair.assertClose("split TN accumulate " + precision, dwAccumulated, tolerance(precision));
        }
    }
}
