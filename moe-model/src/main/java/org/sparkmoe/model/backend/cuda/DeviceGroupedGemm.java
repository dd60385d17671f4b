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
 * <p>Tiles: 128 x 128 outputs per block of 256 threads, on Hopper warpgroup MMAs (wgmma) and elsewhere on
 * {@code mma.sync} ({@link GroupedGemmKernels}); see the .cu for the pipelines and shared-memory layouts. Operands
 * whose rows are not 16-byte aligned, or whose contiguous extents are not multiples of 8, take kernels that copy them
 * element by element.
 *
 * <p>Legend as in {@link org.sparkmoe.model.backend.Backend}: per expert e, rows {@code [o_e, o_{e+1})} of the slab;
 * {@code a_RK}, {@code c_RN} slab rows, {@code w_ENK} one {@code [n, k]} matrix per expert.
 */
final class DeviceGroupedGemm {

    /** Must equal GG_SLICE_STEP in grouped_gemm.cu: slices of the weight gradients' rows are multiples of it. */
    static final int SLICE_STEP = 64;
    /** The resident blocks per multiprocessor the weight gradients' split plans with, whichever kernels run. */
    static final int PLANNED_BLOCKS_PER_SM = 2;
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
    private final GroupedGemmKernels kernels;

    /**
     * The device's kernels ({@link GroupedGemmKernels#forDevice}); refuses fp32 GEMM precision and a GPU without the
     * bf16 tensor-core instructions the kernels use.
     */
    DeviceGroupedGemm(CudaDevice device, Scratch scratch, GemmPrecision precision) {
        this(device, scratch, precision, GroupedGemmKernels.forDevice(device.info()));
    }

    /** For tests: the given kernel family, which the device must support. */
    DeviceGroupedGemm(CudaDevice device, Scratch scratch, GemmPrecision precision, GroupedGemmKernels kernels) {
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
        if (kernels == GroupedGemmKernels.WGMMA && GroupedGemmKernels.forDevice(info) != GroupedGemmKernels.WGMMA) {
            throw new UnsupportedOperationException("the wgmma grouped GEMM kernels need an sm_90a build (Hopper);"
                    + " CUDA device " + info.ordinal() + " '" + info.name() + "' is " + info.architecture());
        }
        this.device = device;
        this.scratch = scratch;
        this.kernels = kernels;
    }

    String path() {
        return "own kernels (" + kernels.instructions() + ", bf16 operands, fp32 output, expert offsets on the device)";
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
        launchRows("nt", aligned(a, w) && k % 8 == 0, true, groups, n, a, w, c, k, alpha, beta);
    }

    /** Input gradient: {@code c_RK[rows of e] = alpha · a_RN[rows of e] · w_ENK[e] + beta · c} (bf16 a and w). */
    void nn(GroupOffsets groups, int n, int k, long a, long w, long c, float alpha, float beta) {
        launchRows("nn", aligned(a, w) && n % 8 == 0 && k % 8 == 0, false, groups, k, a, w, c, n, alpha, beta);
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
        long tilesPerOutput = (long) experts * slices * ceilDiv(n, GroupedGemmKernels.TILE_M);
        launchTiled("tn", aligned(a, b) && n % 8 == 0 && k % 8 == 0, k, tilesPerOutput, false, false, 0, a, b, dw,
                partial, groups.pointer(), experts, n, k, slices, alpha, beta, pairs(dw, k));
        if (slices > 1) {
            int blocks = (int) Math.max(1, Math.min(device.info().multiprocessors() * 8L,
                    (outputs + REDUCE_THREADS - 1) / REDUCE_THREADS));
            device.launch("grouped_gemm_tn_reduce", Dim3.of(blocks), Dim3.of(REDUCE_THREADS), 0, partial,
                    groups.pointer(), dw, experts, n, k, slices, alpha, beta);
        }
    }

    /** nt and nn: C is {@code [R, width]}, the inner dimension {@code inner}; b is w. */
    private void launchRows(String product, boolean aligned, boolean weightKContiguous, GroupOffsets groups,
            int width, long a, long w, long c, int inner, float alpha, float beta) {
        if (groups.rowBound() == 0 || groups.experts() == 0) {
            return;
        }
        long rowTiles = ceilDiv(groups.rowBound(), GroupedGemmKernels.TILE_M)
                + Math.min(groups.experts(), groups.rowBound());
        launchTiled(product, aligned, width, rowTiles, true, weightKContiguous, groups.experts(), a, w, c,
                groups.pointer(), groups.experts(), width, inner, alpha, beta, pairs(c, width));
    }

    /**
     * A persistent grid for {@code product} ("nt", "nn", "tn") whose C is {@code width} wide and has at most
     * {@code rowTiles} tiles down (over all experts): at most the resident blocks. Aligned operands take this
     * backend's kernels, the others mma.sync's element-wise ones.
     */
    private void launchTiled(String product, boolean aligned, int width, long rowTiles, boolean rowGrouped,
            boolean weightKContiguous, int experts, Object... arguments) {
        GroupedGemmKernels family = aligned ? kernels : GroupedGemmKernels.MMA_SYNC;
        int tileN = family.tileN(width);
        String kernel = family.kernel(aligned ? product : product + "_unaligned", tileN);
        long tiles = rowTiles * ceilDiv(width, tileN);
        int sharedBytes = family.sharedBytes(rowGrouped, weightKContiguous, experts, tileN);
        int limit = device.info().maxSharedPerBlockOptIn();
        if (sharedBytes > limit) {
            CudaDevice.DeviceInfo info = device.info();
            throw new UnsupportedOperationException("grouped GEMM kernel " + kernel + " needs " + sharedBytes
                    + " bytes of shared memory per block; CUDA device " + info.ordinal() + " '" + info.name()
                    + "' allows " + limit + ": use cuda-grouped-gemm=cublas");
        }
        int blocks = (int) Math.max(1, Math.min(tiles, (long) family.blocksPerSm * device.info().multiprocessors()));
        device.launch(kernel, Dim3.of(blocks), Dim3.of(GroupedGemmKernels.THREADS), sharedBytes, arguments);
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
        long tiles = (long) experts * ceilDiv(m, GroupedGemmKernels.TILE_M) * ceilDiv(n, GroupedGemmKernels.TILE_N);
        long wanted = ceilDiv((long) WAVES * PLANNED_BLOCKS_PER_SM * multiprocessors, tiles);
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
