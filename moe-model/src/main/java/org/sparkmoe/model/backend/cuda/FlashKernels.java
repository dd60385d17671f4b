package org.sparkmoe.model.backend.cuda;

/**
 * The tensor-core kernels behind {@link AttentionPath#FLASH} ({@code flash_attention.cu}): which instructions, and the
 * shared memory the host launches each pass with. Both families run blocks of 4 warps over 64 rows of one head, walk
 * 64-row tiles through a double-buffered cp.async stream and share the softmax, the masks and the stores; they
 * differ in the MMA and the tiles' layout. The device picks the family ({@link #forDevice}).
 */
public enum FlashKernels {
    /**
     * Hopper warpgroup MMAs (wgmma, sm_90a): 64-row tiles in the 128-byte swizzle, P and dS as register operands, two
     * resident blocks per multiprocessor; the backward walks 64-row query tiles.
     */
    WGMMA("flash_wgmma_", "Hopper wgmma"),
    /** {@code mma.sync} m16n8k16 (sm_80 and newer): padded tiles read by ldmatrix; dK/dV walk 32-row tiles at dim 128. */
    MMA_SYNC("flash_", "mma.sync");

    /** Threads per block and rows per block (and per streamed tile); must equal FLASH_THREADS and FLASH_ROWS. */
    static final int THREADS = 128;
    static final int ROWS = 64;
    /** mma.sync tiles pad each shared row by 8 bf16 (16 bytes) so ldmatrix rows fall into different bank groups. */
    static final int PAD = 8;
    /** The swizzled tiles' alignment (the swizzle's atom), taken from the dynamic shared memory's start. */
    static final int SWIZZLE_ALIGNMENT = 1024;

    private final String prefix;
    private final String instructions;

    FlashKernels(String prefix, String instructions) {
        this.prefix = prefix;
        this.instructions = instructions;
    }

    /** wgmma where the kernels are built for sm_90a (Hopper), mma.sync on every other GPU from sm_80 on. */
    public static FlashKernels forDevice(CudaDevice.DeviceInfo info) {
        return info.architecture().equals("sm_90a") ? WGMMA : MMA_SYNC;
    }

    /** The entry point of {@code pass} ("fwd", "bwd_dq", "bwd_dkv") at {@code headDim}. */
    String kernel(String pass, int headDim) {
        return prefix + pass + "_hd" + headDim;
    }

    public String instructions() {
        return instructions;
    }

    /** The forward's K and V tiles, two buffers each (wgmma: and the block's Q tile). */
    int forwardShared(int headDim) {
        return this == WGMMA ? swizzled(5, headDim) : 4 * paddedTile(ROWS, headDim);
    }

    /** dq's Q and dOut tiles, K and V tiles in two buffers each. */
    int queryShared(int headDim) {
        return this == WGMMA ? swizzled(6, headDim) : 6 * paddedTile(ROWS, headDim);
    }

    /** dkv's K and V tiles; Q and dOut tiles and their rows' lse and delta, two buffers each. */
    int keyValueShared(int headDim) {
        int queryTile = this == WGMMA || headDim == 64 ? ROWS : 32;  // mma.sync's QT at head dim 128: 32
        int rowStats = 4 * queryTile * Float.BYTES;
        return this == WGMMA ? swizzled(6, headDim) + rowStats
                : 2 * paddedTile(ROWS, headDim) + 4 * paddedTile(queryTile, headDim) + rowStats;
    }

    /** Whether every pass at {@code headDim} fits {@code sharedPerBlock} bytes of shared memory per block. */
    boolean fits(int headDim, int sharedPerBlock) {
        return forwardShared(headDim) <= sharedPerBlock && queryShared(headDim) <= sharedPerBlock
                && keyValueShared(headDim) <= sharedPerBlock;
    }

    /** {@code tiles} swizzled 64-row tiles of bf16 and the alignment taken from the start. */
    private static int swizzled(int tiles, int headDim) {
        return SWIZZLE_ALIGNMENT + tiles * ROWS * headDim * 2;
    }

    private static int paddedTile(int rows, int headDim) {
        return rows * (headDim + PAD) * 2;
    }
}
