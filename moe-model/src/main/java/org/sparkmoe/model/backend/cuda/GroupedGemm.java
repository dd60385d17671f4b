package org.sparkmoe.model.backend.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * The experts' grouped GEMMs: one {@code cublasGemmGroupedBatchedEx} over the non-empty groups, or, where cuBLAS
 * lacks it or refuses the operand types, one {@code cublasGemmEx} per group. The fallback is logged once when
 * chosen, never taken silently.
 */
final class GroupedGemm {

    private static final System.Logger LOG = System.getLogger(GroupedGemm.class.getName());

    /** One group's problem: row-major {@code C (m x n) = op(A) op(B)} over inner dimension k, at these addresses. */
    record Problem(int m, int n, int k, long a, long b, long c) {
    }

    private final CudaDevice device;
    private final Scratch scratch;
    private boolean useGroupedApi;

    GroupedGemm(CudaDevice device, Scratch scratch) {
        this.device = device;
        this.scratch = scratch;
        this.useGroupedApi = device.cublas().hasGroupedGemm();
    }

    String path() {
        return useGroupedApi ? "cublasGemmGroupedBatchedEx" : "one cublasGemmEx per expert";
    }

    void run(ElementType inType, boolean transA, boolean transB, List<Problem> problems, int lda, int ldb, int ldc,
            float beta) {
        if (problems.isEmpty()) {
            return;
        }
        if (useGroupedApi) {
            try {
                runGrouped(inType, transA, transB, problems, lda, ldb, ldc, beta);
                return;
            } catch (CudaException e) {
                useGroupedApi = false;
                LOG.log(System.Logger.Level.WARNING, "cuBLAS grouped GEMM refused " + inType + " operands with fp32"
                        + " output (" + e.getMessage() + "); falling back to one cublasGemmEx per expert");
            }
        }
        for (Problem p : problems) {
            device.cublas().gemm(inType, ElementType.F32, transA, transB, p.m(), p.n(), p.k(), 1f, p.a(), lda, p.b(),
                    ldb, beta, p.c(), ldc);
        }
    }

    private void runGrouped(ElementType inType, boolean transA, boolean transB, List<Problem> problems, int lda,
            int ldb, int ldc, float beta) {
        int groups = problems.size();
        long[] pointers = new long[3 * groups];
        int[] m = new int[groups];
        int[] n = new int[groups];
        int[] k = new int[groups];
        List<Problem> list = new ArrayList<>(problems);
        for (int g = 0; g < groups; g++) {
            Problem p = list.get(g);
            pointers[g] = p.a();
            pointers[groups + g] = p.b();
            pointers[2 * groups + g] = p.c();
            m[g] = p.m();
            n[g] = p.n();
            k[g] = p.k();
        }
        DeviceBuffer table = scratch.get("grouped-gemm-pointers", 8L * pointers.length);
        table.upload(pointers);
        device.cublas().gemmGrouped(inType, ElementType.F32, transA, transB, m, n, k, beta, table.pointer(), lda,
                table.pointer() + 8L * groups, ldb, table.pointer() + 16L * groups, ldc);
    }
}
