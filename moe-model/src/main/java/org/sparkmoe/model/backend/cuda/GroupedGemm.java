package org.sparkmoe.model.backend.cuda;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The experts' grouped GEMMs, one {@code cublasGemmGroupedBatchedEx} call per product over the non-empty groups.
 *
 * <p>cuBLAS 13.1 takes bf16 operands only with a bf16 output, so bf16 products write a bf16 scratch copy of the
 * output region, and one kernel then forms {@code C = out + beta·C} in fp32 (the product is rounded to bf16 once,
 * relative error ≤ 2⁻⁹ per element; accumulation across groups, layers and micro-batches stays fp32). fp32 operands
 * give fp32 outputs directly. One call instead of one {@code cublasGemmEx} per expert cuts the host's cuBLAS calls
 * 31-63 fold; with a call per expert the engine's step was bound by issuing them (small spent 200 of 215-258 ms a
 * step issuing 2,300 GEMM calls). On the device it wins for small experts (small's: 115 against 57 TFLOP/s,
 * CudaProbe) and loses for large ones (val2b's, about 1,800 rows of 864 x 1280: 224-263 against 259-381), yet the
 * engine's val2b step is no slower grouped (274-277 ms against 277-303 per expert, whose host issuing took 214-241
 * ms). Where cuBLAS lacks the call or refuses the types,
 * one {@code cublasGemmEx} per group is used instead, logged once as a warning.
 */
final class GroupedGemm {

    private static final System.Logger LOG = System.getLogger(GroupedGemm.class.getName());
    private static final int THREADS = 256;

    /** One group's problem: row-major {@code C (m x n) = op(A) op(B)} over inner dimension k, at these addresses. */
    record Problem(int m, int n, int k, long a, long b, long c) {
    }

    private final CudaDevice device;
    private final Scratch scratch;
    private final PinnedUploads uploads;
    private final Set<ElementType> refused = EnumSet.noneOf(ElementType.class);

    GroupedGemm(CudaDevice device, Scratch scratch, PinnedUploads uploads) {
        this.device = device;
        this.scratch = scratch;
        this.uploads = uploads;
        if (!device.cublas().hasGroupedGemm()) {
            refused.addAll(EnumSet.allOf(ElementType.class));
        }
    }

    String path() {
        return refused.isEmpty() ? "cublasGemmGroupedBatchedEx (bf16 operands: bf16 output + fp32 accumulate kernel)"
                : "one cublasGemmEx per expert for " + refused;
    }

    /**
     * Runs every problem with {@code C = op(A) op(B) + beta·C}; all outputs lie in the fp32 region
     * {@code [cBase, cBase + 4·cElements)}, which the bf16 path mirrors in scratch.
     */
    void run(ElementType inType, boolean transA, boolean transB, List<Problem> problems, int lda, int ldb, int ldc,
            float beta, long cBase, long cElements) {
        if (problems.isEmpty()) {
            return;
        }
        if (!refused.contains(inType)) {
            try {
                if (inType == ElementType.F32) {
                    runGrouped(inType, inType, transA, transB, problems, lda, ldb, ldc, beta);
                } else {
                    runBf16Output(transA, transB, problems, lda, ldb, ldc, beta, cBase, cElements);
                }
                return;
            } catch (CudaException e) {
                refused.add(inType);
                LOG.log(System.Logger.Level.WARNING, "cuBLAS grouped GEMM refused " + inType + " operands ("
                        + e.getMessage() + "); falling back to one cublasGemmEx per expert");
            }
        }
        loop(inType, transA, transB, problems, lda, ldb, ldc, beta);
    }

    /** The problems with each output moved to the same element of a bf16 region starting at {@code out}. */
    private static List<Problem> bf16Outputs(List<Problem> problems, long out, long cBase) {
        return problems.stream().map(p -> new Problem(p.m(), p.n(), p.k(), p.a(), p.b(), out + (p.c() - cBase) / 2))
                .toList();
    }

    private void loop(ElementType inType, boolean transA, boolean transB, List<Problem> problems, int lda, int ldb,
            int ldc, float beta) {
        for (Problem p : problems) {
            device.cublas().gemm(inType, ElementType.F32, transA, transB, p.m(), p.n(), p.k(), 1f, p.a(), lda, p.b(),
                    ldb, beta, p.c(), ldc);
        }
    }

    private void runBf16Output(boolean transA, boolean transB, List<Problem> problems, int lda, int ldb, int ldc,
            float beta, long cBase, long cElements) {
        DeviceBuffer out = scratch.get("grouped-c-bf16", 2 * cElements + 4);
        long covered = problems.stream().mapToLong(p -> (long) p.m() * p.n()).sum();
        if (covered < cElements) {  // groups left out (no rows) must add zero
            launchFlat("fill_f32", (cElements + 1) / 2, out.pointer(), 0f, (cElements + 1) / 2);
        }
        runGrouped(ElementType.BF16, ElementType.BF16, transA, transB, bf16Outputs(problems, out.pointer(), cBase), lda,
                ldb, ldc, 0f);
        launchFlat("accumulate_bf16_f32", cElements, out.pointer(), cBase, cElements, beta);
    }

    private void launchFlat(String kernel, long elements, Object... arguments) {
        int blocks = (int) Math.max(1, Math.min(device.info().multiprocessors() * 8L, (elements + THREADS - 1) / THREADS));
        device.launch(kernel, Dim3.of(blocks), Dim3.of(THREADS), 0, arguments);
    }

    private void runGrouped(ElementType inType, ElementType outType, boolean transA, boolean transB,
            List<Problem> problems, int lda, int ldb, int ldc, float beta) {
        int groups = problems.size();
        long[] pointers = new long[3 * groups];
        int[] m = new int[groups];
        int[] n = new int[groups];
        int[] k = new int[groups];
        for (int g = 0; g < groups; g++) {
            Problem p = problems.get(g);
            pointers[g] = p.a();
            pointers[groups + g] = p.b();
            pointers[2 * groups + g] = p.c();
            m[g] = p.m();
            n[g] = p.n();
            k[g] = p.k();
        }
        DeviceBuffer table = scratch.get("grouped-gemm-pointers", 8L * pointers.length);
        uploads.upload(pointers, table.pointer());
        device.cublas().gemmGrouped(inType, outType, transA, transB, m, n, k, beta, table.pointer(), lda,
                table.pointer() + 8L * groups, ldb, table.pointer() + 16L * groups, ldc);
    }
}
