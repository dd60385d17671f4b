package org.sparkmoe.model.backend.cuda;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * ms). Problems of one shape go to cuBLAS as one group, which it runs as one batched kernel. The experts' weight
 * gradients with small outputs are split along their inner dimension ({@link SplitK}): at DeepSeekMoE's 176 x 256
 * per expert cuBLAS otherwise runs each expert on 3-4 blocks over its ~1,800 rows, 44 % of a cmp-deepseekmoe step.
 * Where cuBLAS lacks the call or refuses the types, one {@code cublasGemmEx} per group is used instead, logged once
 * as a warning.
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
        return refused.isEmpty() ? "cublasGemmGroupedBatchedEx (bf16 operands: bf16 output + fp32 accumulate kernel;"
                + " small weight gradients split along the rows)" : "one cublasGemmEx per expert for " + refused;
    }

    /**
     * Runs every problem with {@code C = op(A) op(B) + beta·C}; all outputs lie in the fp32 region
     * {@code [cBase, cBase + 4·cElements)}, which the bf16 path mirrors in scratch.
     */
    void run(ElementType inType, boolean transA, boolean transB, List<Problem> problems, int lda, int ldb, int ldc,
            float beta, long cBase, long cElements) {
        execute(inType, transA, transB, problems, null, lda, ldb, ldc, beta, cBase, cElements);
    }

    /**
     * The experts' weight gradients, {@code C = Aᵀ B + beta·C} per problem (A is {@code k x m}, B {@code k x n}, both
     * row-major): as {@link #run}, but with bf16 operands the inner dimension of small outputs is split into chunks
     * ({@link SplitK}) whose partial products are summed in fp32. fp32 operands run unsplit: cuBLAS writes their fp32
     * output directly, and a split would need fp32 partials and a pass to sum them.
     */
    void runWeightGradients(ElementType inType, List<Problem> problems, int lda, int ldb, int ldc, float beta,
            long cBase, long cElements) {
        SplitK split = inType == ElementType.F32 ? null : SplitK.plan(problems, device.info().multiprocessors());
        execute(inType, true, false, problems, split, lda, ldb, ldc, beta, cBase, cElements);
    }

    private void execute(ElementType inType, boolean transA, boolean transB, List<Problem> problems, SplitK split,
            int lda, int ldb, int ldc, float beta, long cBase, long cElements) {
        if (problems.isEmpty()) {
            return;
        }
        if (!refused.contains(inType)) {
            try {
                if (inType == ElementType.F32) {
                    runGrouped(inType, inType, transA, transB, problems, lda, ldb, ldc, beta);
                } else {
                    runBf16Output(transA, transB, problems, split, lda, ldb, ldc, beta, cBase, cElements);
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

    private void loop(ElementType inType, boolean transA, boolean transB, List<Problem> problems, int lda, int ldb,
            int ldc, float beta) {
        for (Problem p : problems) {
            device.cublas().gemm(inType, ElementType.F32, transA, transB, p.m(), p.n(), p.k(), 1f, p.a(), lda, p.b(),
                    ldb, beta, p.c(), ldc);
        }
    }

    /**
     * bf16 products into bf16 partial regions of scratch (partial-major, each a mirror of the output region, 16-byte
     * aligned), then one kernel sums the partials in order and forms {@code C = sum + beta·C} in fp32. Without a split
     * there is one partial. A region some element of which no chunk writes (experts without rows, problems with
     * fewer chunks than partials) is zeroed first, so it adds nothing.
     */
    private void runBf16Output(boolean transA, boolean transB, List<Problem> problems, SplitK split, int lda, int ldb,
            int ldc, float beta, long cBase, long cElements) {
        int partials = split == null ? 1 : split.partials();
        long stride = (cElements + 7) / 8 * 8;
        DeviceBuffer out = scratch.get("grouped-c-bf16", 2 * stride * partials);
        long aStep = 2L * (transA ? lda : 1);  // bytes from one inner index to the next
        long bStep = 2L * (transB ? 1 : ldb);
        List<Problem> chunks = new ArrayList<>();
        long[] covered = new long[partials];
        for (int i = 0; i < problems.size(); i++) {
            Problem p = problems.get(i);
            long element = (p.c() - cBase) / 4;
            int count = split == null ? 1 : split.chunks(i);
            for (int c = 0; c < count; c++) {
                int from = split == null ? 0 : split.start(i, c);
                int to = split == null ? p.k() : split.start(i, c + 1);
                chunks.add(new Problem(p.m(), p.n(), to - from, p.a() + aStep * from, p.b() + bStep * from,
                        out.pointer() + 2 * (c * stride + element)));
                covered[c] += (long) p.m() * p.n();
            }
        }
        for (int c = 0; c < partials; c++) {
            if (covered[c] < cElements) {
                launchFlat("fill_f32", stride / 2, out.pointer() + 2 * c * stride, 0f, stride / 2);
            }
        }
        runGrouped(ElementType.BF16, ElementType.BF16, transA, transB, chunks, lda, ldb, ldc, 0f);
        launchFlat("accumulate_bf16_f32", cElements, out.pointer(), stride, partials, cBase, cElements, beta);
    }

    private void launchFlat(String kernel, long elements, Object... arguments) {
        int blocks = (int) Math.max(1, Math.min(device.info().multiprocessors() * 8L, (elements + THREADS - 1) / THREADS));
        device.launch(kernel, Dim3.of(blocks), Dim3.of(THREADS), 0, arguments);
    }

    /** One grouped call; problems of one shape form one cuBLAS group, which cuBLAS runs as one batched kernel. */
    private void runGrouped(ElementType inType, ElementType outType, boolean transA, boolean transB,
            List<Problem> problems, int lda, int ldb, int ldc, float beta) {
        Map<List<Integer>, List<Problem>> byShape = new LinkedHashMap<>();
        for (Problem p : problems) {
            byShape.computeIfAbsent(List.of(p.m(), p.n(), p.k()), shape -> new ArrayList<>()).add(p);
        }
        int groups = byShape.size();
        int total = problems.size();
        long[] pointers = new long[3 * total];
        int[] m = new int[groups];
        int[] n = new int[groups];
        int[] k = new int[groups];
        int[] sizes = new int[groups];
        int g = 0;
        int i = 0;
        for (List<Problem> group : byShape.values()) {
            m[g] = group.getFirst().m();
            n[g] = group.getFirst().n();
            k[g] = group.getFirst().k();
            sizes[g++] = group.size();
            for (Problem p : group) {
                pointers[i] = p.a();
                pointers[total + i] = p.b();
                pointers[2 * total + i++] = p.c();
            }
        }
        DeviceBuffer table = scratch.get("grouped-gemm-pointers", 8L * pointers.length);
        uploads.upload(pointers, table.pointer());
        device.cublas().gemmGrouped(inType, outType, transA, transB, m, n, k, sizes, beta, table.pointer(), lda,
                table.pointer() + 8L * total, ldb, table.pointer() + 16L * total, ldc);
    }
}
