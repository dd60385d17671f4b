package org.sparkmoe.model.backend.cuda;

/**
 * The tile kernels behind {@link GroupedGemmPath#OWN} ({@code grouped_gemm.cu}): which tensor-core instructions, and
 * the constants the host plans their grids and shared memory with. Both tile C by 128 x 128 with 256 threads and
 * schedule the experts' tiles the same way; they differ in the MMA and the pipeline. The device picks the family
 * ({@link #forDevice}); operands that are not 16-byte aligned take the mma.sync family's element-wise kernels on any
 * GPU.
 */
enum GroupedGemmKernels {
    /**
     * Hopper warpgroup MMAs (wgmma m64n128k16 or m64n256k16, sm_90a): C tiles 128 or 256 wide ({@link #tileN}),
     * inner steps of 64 through 6 or 4 stages of tiles in the 128-byte swizzle, one resident block per multiprocessor.
     */
    WGMMA("grouped_gemm_wgmma_", 64, 6, 1, "Hopper wgmma"),
    /**
     * {@code mma.sync} m16n8k16 (sm_80 and newer): C tiles 128 wide, inner steps of 32 through 4 stages of padded
     * tiles, two resident blocks per multiprocessor.
     */
    MMA_SYNC("grouped_gemm_", 32, 4, 2, "mma.sync");

    static final int THREADS = 256;
    static final int TILE_M = 128;
    static final int TILE_N = 128;
    /** wgmma's wide tiles: C tiles of 256 columns, through this many stages. */
    static final int WIDE_TILE_N = 256;
    static final int WIDE_STAGES = 4;
    /** mma.sync tiles pad each shared row by 8 bf16 (16 bytes) so ldmatrix rows fall into different bank groups. */
    static final int PAD = 8;
    /** The wgmma tiles' alignment (the swizzle's atom), taken from the dynamic shared memory's start. */
    static final int SWIZZLE_ALIGNMENT = 1024;

    private final String prefix;
    final int tileK;
    final int stages;
    /** Resident blocks per multiprocessor the persistent grids assume (the kernels' launch bounds). */
    final int blocksPerSm;
    private final String instructions;

    GroupedGemmKernels(String prefix, int tileK, int stages, int blocksPerSm, String instructions) {
        this.prefix = prefix;
        this.tileK = tileK;
        this.stages = stages;
        this.blocksPerSm = blocksPerSm;
        this.instructions = instructions;
    }

    /** wgmma where the kernels are built for sm_90a (Hopper), mma.sync on every other GPU from sm_80 on. */
    static GroupedGemmKernels forDevice(CudaDevice.DeviceInfo info) {
        return info.architecture().equals("sm_90a") ? WGMMA : MMA_SYNC;
    }

    /**
     * The width of the C tiles for a C of {@code width} columns: wgmma's 256 where that pads C to no more columns
     * than 128 does (1,280: 5 tiles of 256; 864: 7 of 128, not 4 of 256), else 128.
     */
    int tileN(int width) {
        boolean wide = this == WGMMA && roundUp(width, WIDE_TILE_N) == roundUp(width, TILE_N);
        return wide ? WIDE_TILE_N : TILE_N;
    }

    /** The entry point of {@code product} ("nt", "nn", "tn", or "_unaligned" ones) for C tiles {@code tileN} wide. */
    String kernel(String product, int tileN) {
        return prefix + product + (tileN == WIDE_TILE_N ? "_wide" : "");
    }

    String instructions() {
        return instructions;
    }

    /**
     * Dynamic shared memory for C tiles {@code tileN} wide: the pipeline's stages (a's tile and b's, bf16), and for
     * the row-grouped kernels the offsets and each expert's last tile.
     */
    int sharedBytes(boolean rowGrouped, boolean weightKContiguous, int experts, int tileN) {
        int scheduler = rowGrouped ? 4 * (2 * experts + 1) : 0;
        if (this == WGMMA) {
            int stageCount = tileN == WIDE_TILE_N ? WIDE_STAGES : stages;
            return SWIZZLE_ALIGNMENT + stageCount * 2 * (TILE_M + tileN) * tileK + scheduler;
        }
        int a = rowGrouped ? TILE_M * (tileK + PAD) : tileK * (TILE_M + PAD);
        int b = weightKContiguous ? TILE_N * (tileK + PAD) : tileK * (TILE_N + PAD);
        return stages * 2 * (a + b) + scheduler;
    }

    private static long roundUp(long value, int multiple) {
        return (value + multiple - 1) / multiple * multiple;
    }
}
