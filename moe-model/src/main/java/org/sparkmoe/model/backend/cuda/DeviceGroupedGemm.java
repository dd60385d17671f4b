package org.sparkmoe.model.backend.cuda;

/**
 * The experts' grouped GEMMs on our own tensor-core kernels ({@link GroupedGemmPath#OWN}; {@code grouped_gemm.cu}):
 * bf16 operands (the activations' bf16 copies, the weights' bf16 images), fp32 accumulation, and fp32 outputs
 * {@code C = alpha·AB + beta·C} written by the product itself, with no bf16 mirror and no pass after it.
 *
 * <p>The kernels read where each expert's rows lie from a device buffer, {@link GroupOffsets}: the prefix sums of the
 * rows per expert. The host sizes the grid from an upper bound on the total rows only, so a routing computed on the
 * device could feed the products without the host learning the counts. Forward and input gradient run a persistent
 * grid whose blocks find their (expert, tile) from the offsets. Weight gradients have E·M·N outputs whatever the
 * routing and an inner dimension as long as the expert's rows; each expert's rows are cut into a fixed number of
 * slices ({@link #slices}), each slice's fp32 partial summed in slice order by {@code grouped_gemm_tn_reduce}, so
 * results do not depend on scheduling (no float atomics). The number of slices depends on the shapes, the row bound
 * and the GPU, never on the counts themselves.
 *
 * <p>Tiles: 128 x 128 outputs per block of 8 warps (64 x 32 each), 32 inner values per step through a 4-stage
 * cp.async pipeline, bf16 {@code mma.sync} m16n8k16 fed by {@code ldmatrix}; see the .cu for the shared-memory
 * layout. Operands whose rows are not 16-byte aligned, or whose contiguous extents are not multiples of 8, take
 * kernels that copy them element by element.
 *
 * <p>Legend as in {@link org.sparkmoe.model.backend.Backend}: per expert e, rows {@code [o_e, o_{e+1})} of the slab;
 * {@code a_RK}, {@code c_RN} slab rows, {@code w_ENK} one {@code [n, k]} matrix per expert.
 */
final class DeviceGroupedGemm {

    /** Must equal GG_THREADS, GG_BM, GG_BN, GG_BK, GG_STAGES and GG_PAD in grouped_gemm.cu. */
    static final int THREADS = 256;
    static final int TILE_M = 128;
    static final int TILE_N = 128;
    static final int TILE_K = 32;
    static final int STAGES = 4;
    static final int PAD = 8;
    /** Resident blocks per multiprocessor the persistent grids assume (the kernels' launch bounds). */
    static final int BLOCKS_PER_SM = 2;
    /** Weight gradients: split until the tiles fill this many waves of resident blocks... */
    static final int WAVES = 2;
    /** ...with at most this many slices per expert... */
    static final int MAX_SLICES = 8;
    /** ...each keeping at least this many rows of an expert of average size. */
    static final int MIN_SLICE_ROWS = 256;
    private static final int REDUCE_THREADS = 256;

    /**
     * Where each expert's rows lie in the slab, on the device: {@code experts + 1} int32 prefix sums of the rows per
     * expert (the first 0), and an upper bound on their total that sizes the grids and the weight gradients' split.
     */
    record GroupOffsets(long pointer, int experts, long rowBound) {
    }

    private final CudaDevice device;
    private final Scratch scratch;

    /** Refuses fp32 GEMM precision and a GPU without the bf16 tensor-core instructions the kernels use. */
    DeviceGroupedGemm(CudaDevice device, Scratch scratch, GemmPrecision precision) {
        CudaDevice.DeviceInfo info = device.info();
        if (info.computeMajor() < 8) {
            throw new UnsupportedOperationException("our grouped GEMM kernels need compute capability 8.0 or newer"
                    + " (bf16 mma.sync, cp.async); CUDA device " + info.ordinal() + " '" + info.name() + "' is "
                    + info.architecture() + ": use cuda-grouped-gemm=cublas");
        }
        if (precision != GemmPrecision.BF16) {
            throw new UnsupportedOperationException("our grouped GEMM kernels take bf16 operands; with GEMM precision "
                    + precision + " use cuda-grouped-gemm=cublas (or cuda-gemm-precision=bf16)");
        }
        this.device = device;
        this.scratch = scratch;
    }

    String path() {
        return "own kernels (bf16 tensor cores, fp32 output, expert offsets on the device)";
    }

    /** The prefix sums of {@code groupRows}, queued to the device through {@code uploads}; the bound is their total. */
    GroupOffsets upload(int[] groupRows, PinnedUploads uploads) {
        int[] offsets = new int[groupRows.length + 1];
        long total = 0;
        for (int g = 0; g < groupRows.length; g++) {
            if (groupRows[g] < 0) {
                throw new IllegalArgumentException("group " + g + " has " + groupRows[g] + " rows; counts must be >= 0");
            }
            total += groupRows[g];
            if (total > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("the groups' " + total + "+ rows exceed the 2^31 - 1 slab rows the"
                        + " grouped GEMM kernels index");
            }
            offsets[g + 1] = (int) total;
        }
        DeviceBuffer buffer = scratch.get("grouped-offsets", 4L * offsets.length);
        uploads.upload(offsets, offsets.length, buffer.pointer());
        return new GroupOffsets(buffer.pointer(), groupRows.length, total);
    }

    /** Forward: {@code c_RN[rows of e] = alpha · a_RK[rows of e] · w_ENK[e]ᵀ + beta · c} (bf16 a and w). */
    void nt(GroupOffsets groups, int n, int k, long a, long w, long c, float alpha, float beta) {
        boolean aligned = aligned(a, w) && k % 8 == 0;
        launchRows(aligned ? "grouped_gemm_nt" : "grouped_gemm_nt_unaligned", true, groups, n, a, w, c, k, alpha,
                beta);
    }

    /** Input gradient: {@code c_RK[rows of e] = alpha · a_RN[rows of e] · w_ENK[e] + beta · c} (bf16 a and w). */
    void nn(GroupOffsets groups, int n, int k, long a, long w, long c, float alpha, float beta) {
        boolean aligned = aligned(a, w) && n % 8 == 0 && k % 8 == 0;
        launchRows(aligned ? "grouped_gemm_nn" : "grouped_gemm_nn_unaligned", false, groups, k, a, w, c, n, alpha,
                beta);
    }

    /**
     * Weight gradient: {@code dw_ENK[e] = alpha · a_RN[rows of e]ᵀ · b_RK[rows of e] + beta · dw} (bf16 a and b);
     * an expert without rows gets {@code beta · dw}.
     */
    void tn(GroupOffsets groups, int n, int k, long a, long b, long dw, float alpha, float beta) {
        int experts = groups.experts();
        if (experts == 0) {
            return;
        }
        int slices = slices(experts, n, k, groups.rowBound(), device.info().multiprocessors());
        long outputs = (long) experts * n * k;
        long partial = slices == 1 ? 0 : scratch.get("grouped-partials", 4L * slices * outputs).pointer();
        boolean aligned = aligned(a, b) && n % 8 == 0 && k % 8 == 0;
        int tiles = experts * slices * ceilDiv(n, TILE_M) * ceilDiv(k, TILE_N);
        launchTiled(aligned ? "grouped_gemm_tn" : "grouped_gemm_tn_unaligned", tiles,
                sharedBytes(false, false, 0), a, b, dw, partial, groups.pointer(), experts, n, k, slices,
                alpha, beta, pairs(dw, k));
        if (slices > 1) {
            int blocks = (int) Math.max(1, Math.min(device.info().multiprocessors() * 8L,
                    (outputs + REDUCE_THREADS - 1) / REDUCE_THREADS));
            device.launch("grouped_gemm_tn_reduce", Dim3.of(blocks), Dim3.of(REDUCE_THREADS), 0, partial,
                    groups.pointer(), dw, experts, n, k, slices, alpha, beta);
        }
    }

    /** nt and nn: C is {@code [R, width]}, the inner dimension {@code inner}; b is w. */
    private void launchRows(String kernel, boolean weightKContiguous, GroupOffsets groups, int width, long a, long w,
            long c, int inner, float alpha, float beta) {
        if (groups.rowBound() == 0 || groups.experts() == 0) {
            return;
        }
        long bound = (long) ceilDiv(width, TILE_N)
                * (ceilDiv(groups.rowBound(), TILE_M) + Math.min(groups.experts(), groups.rowBound()));
        launchTiled(kernel, bound, sharedBytes(true, weightKContiguous, groups.experts()), a, w, c,
                groups.pointer(), groups.experts(), width, inner, alpha, beta, pairs(c, width));
    }

    /** A persistent grid: at most the resident blocks, fewer when there are fewer tiles. */
    private void launchTiled(String kernel, long tiles, int sharedBytes, Object... arguments) {
        int limit = device.info().maxSharedPerBlockOptIn();
        if (sharedBytes > limit) {
            CudaDevice.DeviceInfo info = device.info();
            throw new UnsupportedOperationException("grouped GEMM kernel " + kernel + " needs " + sharedBytes
                    + " bytes of shared memory per block; CUDA device " + info.ordinal() + " '" + info.name()
                    + "' allows " + limit + ": use cuda-grouped-gemm=cublas");
        }
        int blocks = (int) Math.max(1, Math.min(tiles, (long) BLOCKS_PER_SM * device.info().multiprocessors()));
        device.launch(kernel, Dim3.of(blocks), Dim3.of(THREADS), sharedBytes, arguments);
    }

    /**
     * How many slices each expert's rows are cut into for a weight gradient of {@code experts} outputs of
     * {@code m x n}: enough that the tiles fill {@value #WAVES} waves of resident blocks, at most {@value #MAX_SLICES},
     * and 1 when an expert of average size ({@code rowBound / experts}) has fewer than {@value #MIN_SLICE_ROWS} rows
     * per slice. DeepSeekMoE's fine-grained 176 x 256 outputs are 4 tiles each; val-2b's 864 x 1280 are 70.
     */
    static int slices(int experts, int m, int n, long rowBound, int multiprocessors) {
        if (experts <= 0 || multiprocessors <= 0) {
            throw new IllegalArgumentException("experts (" + experts + ") and multiprocessors (" + multiprocessors
                    + ") must be positive");
        }
        long tiles = (long) experts * ceilDiv(m, TILE_M) * ceilDiv(n, TILE_N);
        long wanted = ceilDiv((long) WAVES * BLOCKS_PER_SM * multiprocessors, tiles);
        long byRows = rowBound / experts / MIN_SLICE_ROWS;
        return (int) Math.max(1, Math.min(Math.min(wanted, MAX_SLICES), byRows));
    }

    /**
     * Scratch bytes at most: the offsets, and in training the weight gradients' fp32 partials for {@code experts}
     * outputs of {@code width x dim} over at most {@code rowBound} rows.
     */
    static long scratchBytes(int experts, int width, int dim, long rowBound, boolean training, int multiprocessors) {
        if (experts == 0) {
            return 0;
        }
        int slices = training ? slices(experts, width, dim, rowBound, multiprocessors) : 1;
        return 4L * (experts + 1) + (slices == 1 ? 0 : 4L * slices * experts * width * dim);
    }

    /**
     * Dynamic shared memory: the pipeline's stages (a's tile and b's, bf16, rows padded by 8), and for the row-grouped
     * kernels the offsets and each expert's last tile.
     */
    static int sharedBytes(boolean rowGrouped, boolean weightKContiguous, int experts) {
        int a = rowGrouped ? kContiguous(TILE_M) : outerContiguous(TILE_M);
        int b = weightKContiguous ? kContiguous(TILE_N) : outerContiguous(TILE_N);
        return STAGES * 2 * (a + b) + (rowGrouped ? 4 * (2 * experts + 1) : 0);
    }

    private static int kContiguous(int rows) {
        return rows * (TILE_K + PAD);
    }

    private static int outerContiguous(int columns) {
        return TILE_K * (columns + PAD);
    }

    /** Operand rows move 16 bytes at a time when both bases are 16-byte aligned (and the widths multiples of 8). */
    private static boolean aligned(long a, long b) {
        return a % 16 == 0 && b % 16 == 0;
    }

    /** Output rows are written 2 fp32 at a time when 8-byte aligned and of even width. */
    private static int pairs(long c, int width) {
        return c % 8 == 0 && width % 2 == 0 ? 1 : 0;
    }

    private static int ceilDiv(long a, long b) {
        return (int) ((a + b - 1) / b);
    }
}
