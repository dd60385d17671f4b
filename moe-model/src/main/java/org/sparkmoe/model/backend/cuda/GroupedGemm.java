package org.sparkmoe.model.backend.cuda;

import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The experts' grouped GEMMs, one {@code cublasGemmGroupedBatchedEx} call per product over the non-empty groups.
 *
 * <p>cuBLAS 13.1 takes bf16 operands only with a bf16 output, so bf16 products write a bf16 scratch copy of the
 * output region, and one kernel then forms {@code C = out + beta·C} in fp32 (the product is rounded to bf16 once,
 * relative error ≤ 2⁻⁹ per element; accumulation across groups, layers and micro-batches stays fp32). fp32 operands
 * give fp32 outputs directly. One call instead of one {@code cublasGemmEx} per expert matters twice: the device runs
 * the groups together, and the host skips cuBLAS's per-shape heuristics, which miss on every new row count (row counts
 * change every step as routing moves). But cuBLAS's grouped kernels reach fewer TFLOP/s than its plain ones on large
 * groups (val2b experts: 263 against 381, CudaProbe), so for bf16 the first call of each product shape times both
 * ways with CUDA events, keeps the faster one for that shape and logs the choice. Where cuBLAS lacks the call or
 * refuses the types, one {@code cublasGemmEx} per group is used instead, logged once as a warning.
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
    /** Per product shape (bf16 operands): whether one grouped call beat one GEMM per expert when timed. */
    private final Map<Shape, Boolean> groupedFaster = new HashMap<>();

    /** A product's shape class: the transposes and row strides fix every dimension but the per-group one. */
    private record Shape(boolean transA, boolean transB, int lda, int ldb, int ldc) {
    }

    GroupedGemm(CudaDevice device, Scratch scratch, PinnedUploads uploads) {
        this.device = device;
        this.scratch = scratch;
        this.uploads = uploads;
        if (!device.cublas().hasGroupedGemm()) {
            refused.addAll(EnumSet.allOf(ElementType.class));
        }
    }

    String path() {
        return refused.isEmpty() ? "cublasGemmGroupedBatchedEx (bf16 operands: bf16 output + fp32 accumulate kernel) or"
                + " one cublasGemmEx per expert, whichever is faster per shape (timed at first use)"
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
                    return;
                }
                Shape shape = new Shape(transA, transB, lda, ldb, ldc);
                Boolean grouped = groupedFaster.get(shape);
                if (grouped == null) {
                    tune(shape, problems, beta, cBase, cElements);
                    return;
                }
                if (grouped) {
                    runBf16Output(transA, transB, problems, lda, ldb, ldc, beta, cBase, cElements);
                    return;
                }
            } catch (CudaException e) {
                refused.add(inType);
                LOG.log(System.Logger.Level.WARNING, "cuBLAS grouped GEMM refused " + inType + " operands ("
                        + e.getMessage() + "); falling back to one cublasGemmEx per expert");
            }
        }
        loop(inType, transA, transB, problems, lda, ldb, ldc, beta);
    }

    /**
     * Times this call both ways, each once warmed up: one GEMM per expert into a scratch fp32 mirror of the outputs
     * (beta 0, freed after), then the grouped path, which writes the real outputs, so the caller's outputs are
     * written exactly once.
     */
    private void tune(Shape shape, List<Problem> problems, float beta, long cBase, long cElements) {
        long mirror = scratch.get("grouped-tune-f32", 4 * cElements).pointer();
        List<Problem> mirrored = problems.stream().map(p -> new Problem(p.m(), p.n(), p.k(), p.a(), p.b(),
                mirror + (p.c() - cBase))).toList();
        Runnable perExpert = () -> loop(ElementType.BF16, shape.transA(), shape.transB(), mirrored, shape.lda(),
                shape.ldb(), shape.ldc(), 0f);
        perExpert.run();
        runGrouped(ElementType.BF16, ElementType.BF16, shape.transA(), shape.transB(),
                bf16Outputs(problems, scratch.get("grouped-c-bf16", 2 * cElements + 4).pointer(), cBase), shape.lda(),
                shape.ldb(), shape.ldc(), 0f);
        float loopMs = device.time(perExpert);
        float groupedMs = device.time(() -> runBf16Output(shape.transA(), shape.transB(), problems, shape.lda(),
                shape.ldb(), shape.ldc(), beta, cBase, cElements));
        scratch.release("grouped-tune-f32");
        boolean grouped = groupedMs < loopMs;
        groupedFaster.put(shape, grouped);
        LOG.log(System.Logger.Level.INFO, String.format(Locale.ROOT, "grouped GEMM %s%s lda=%d ldb=%d ldc=%d over %d"
                + " groups: one grouped call %.3f ms, one GEMM per expert %.3f ms: using %s", shape.transA() ? "T" : "N",
                shape.transB() ? "T" : "N", shape.lda(), shape.ldb(), shape.ldc(), problems.size(), groupedMs, loopMs,
                grouped ? "the grouped call" : "one GEMM per expert"));
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
