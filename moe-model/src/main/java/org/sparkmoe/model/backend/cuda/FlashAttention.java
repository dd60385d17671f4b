package org.sparkmoe.model.backend.cuda;

/**
 * Causal attention on tensor cores, FlashAttention-2 style ({@link AttentionPath#FLASH}; kernels in
 * {@code flash_attention.cu}). A block of 4 warps takes 64 query rows of one head and walks the key tiles up to its
 * diagonal: {@code S = Q Kᵀ}, the online softmax and {@code O += P V} stay in registers (bf16 MMAs with fp32
 * accumulators: Hopper's wgmma or {@code mma.sync}, {@link FlashKernels}), so no T² matrix reaches memory; the forward
 * saves each row's log-sum-exp as the other paths do.
 *
 * <p>Operands are bf16 whatever the backend's {@link GemmPrecision}: the tiles every block streams (k, v forward; q,
 * k, v, dOut backward) are cast once per call into scratch (as the GEMM path's operands are); a block's own 64 rows
 * are read in fp32 and rounded as they are staged. Outputs are fp32.
 *
 * <p>Backward: {@code delta = rowsum(dOut ∘ out)} ({@code attention_delta}), then one pass per key block (dK, dV
 * accumulated in registers over the query tiles at or after it) and one per query block (dQ over the key tiles up to
 * it), both rebuilding P from the lse. Summing dQ from the key blocks with float atomics would save recomputing
 * {@code Q Kᵀ} and {@code dOut Vᵀ} (5 tile products instead of 7) but make the result depend on scheduling; every
 * reduction of this backend is deterministic, so dQ gets its own pass.
 *
 * <p>Legend: q, k, v, out, dOut, dq, dk, dv {@code [B, T, H, Dh]} fp32; lse {@code [B, H, T]}.
 */
final class FlashAttention {

    private final CudaDevice device;
    private final Scratch scratch;
    private final FlashKernels kernels;

    /** Refuses a GPU without the bf16 tensor-core instructions the kernels use. */
    FlashAttention(CudaDevice device, Scratch scratch, FlashKernels kernels) {
        CudaDevice.DeviceInfo info = device.info();
        if (info.computeMajor() < 8) {
            throw new UnsupportedOperationException("FLASH attention needs compute capability 8.0 or newer (bf16"
                    + " mma.sync, cp.async); CUDA device " + info.ordinal() + " '" + info.name() + "' is "
                    + info.architecture() + ": use the GEMM attention path (cuda-attention=gemm)");
        }
        if (kernels == FlashKernels.WGMMA && FlashKernels.forDevice(info) != FlashKernels.WGMMA) {
            throw new UnsupportedOperationException("FLASH attention's wgmma kernels need an sm_90a (Hopper) build;"
                    + " CUDA device " + info.ordinal() + " '" + info.name() + "' is " + info.architecture());
        }
        this.device = device;
        this.scratch = scratch;
        this.kernels = kernels;
    }

    FlashKernels kernels() {
        return kernels;
    }

    /** Scratch bytes at most: the bf16 copies of the streamed operands (k, v; training also q and dOut). */
    static long scratchBytes(long rows, int dim, boolean training) {
        return (training ? 4 : 2) * 2L * rows * dim;
    }

    void forward(CudaTensor q, CudaTensor k, CudaTensor v, CudaTensor out, CudaTensor lse, int batch, int seqLen,
            int heads, int headDim) {
        checkHeadDim(headDim);
        checkAligned(q);
        checkAligned(out);
        long elements = (long) batch * seqLen * heads * headDim;
        long k16 = scratch.bf16Copy("attention-k", k.pointer(), elements);
        long v16 = scratch.bf16Copy("attention-v", v.pointer(), elements);
        launch(kernels.kernel("fwd", headDim), batch, seqLen, heads, kernels.forwardShared(headDim), q.pointer(), k16,
                v16, out.pointer(), lse.pointer(), seqLen, heads, scale(headDim));
    }

    void backward(CudaTensor dOut, CudaTensor q, CudaTensor k, CudaTensor v, CudaTensor out, CudaTensor lse,
            CudaTensor dq, CudaTensor dk, CudaTensor dv, int batch, int seqLen, int heads, int headDim) {
        checkHeadDim(headDim);
        for (CudaTensor t : new CudaTensor[] {q, k, v, dOut, dq, dk, dv}) {
            checkAligned(t);
        }
        DeviceBuffer delta = scratch.get("attention-delta", 4L * batch * heads * seqLen);
        device.launch("attention_delta", Dim3.of(batch * seqLen * heads), Dim3.of(32), 0, dOut.pointer(), out.pointer(),
                delta.pointer(), batch, seqLen, heads, headDim);
        long elements = (long) batch * seqLen * heads * headDim;
        long q16 = scratch.bf16Copy("attention-q", q.pointer(), elements);
        long k16 = scratch.bf16Copy("attention-k", k.pointer(), elements);
        long v16 = scratch.bf16Copy("attention-v", v.pointer(), elements);
        long dOut16 = scratch.bf16Copy("attention-dout", dOut.pointer(), elements);
        float scale = scale(headDim);
        launch(kernels.kernel("bwd_dkv", headDim), batch, seqLen, heads, kernels.keyValueShared(headDim), k.pointer(),
                v.pointer(), q16, dOut16, lse.pointer(), delta.pointer(), dk.pointer(), dv.pointer(), seqLen, heads,
                scale);
        launch(kernels.kernel("bwd_dq", headDim), batch, seqLen, heads, kernels.queryShared(headDim), q.pointer(),
                dOut.pointer(), k16, v16, lse.pointer(), delta.pointer(), dq.pointer(), seqLen, heads, scale);
    }

    /** One block per 64 rows of one head of one sequence. */
    private void launch(String kernel, int batch, int seqLen, int heads, int sharedBytes, Object... arguments) {
        int limit = device.info().maxSharedPerBlockOptIn();
        if (sharedBytes > limit) {
            CudaDevice.DeviceInfo info = device.info();
            throw new UnsupportedOperationException("FLASH attention kernel " + kernel + " needs " + sharedBytes
                    + " bytes of shared memory per block; CUDA device " + info.ordinal() + " '" + info.name()
                    + "' allows " + limit + ": use the GEMM attention path (cuda-attention=gemm)");
        }
        int rows = FlashKernels.ROWS;
        device.launch(kernel, new Dim3((seqLen + rows - 1) / rows, heads, batch), Dim3.of(FlashKernels.THREADS),
                sharedBytes, arguments);
    }

    private static float scale(int headDim) {
        return (float) (1 / Math.sqrt(headDim));
    }

    /** The head dims the kernels exist for. */
    static boolean servesHeadDim(int headDim) {
        return headDim == 64 || headDim == 128;
    }

    /**
     * Whether AUTO attention takes FLASH at {@code headDim} on this device: a head dim the kernels exist for, whose
     * passes fit the device's shared memory per block (mma.sync's dq at head dim 128 needs 102 KiB: more than the 99
     * of sm_86 and sm_89).
     */
    boolean serves(int headDim) {
        return servesHeadDim(headDim) && kernels.fits(headDim, device.info().maxSharedPerBlockOptIn());
    }

    /** The head dims {@link #serves} on this device, for the backend's description. */
    String servedHeadDims() {
        return serves(64) && serves(128) ? "64 and 128" : serves(64) ? "64" : serves(128) ? "128" : "none";
    }

    private static void checkHeadDim(int headDim) {
        if (!servesHeadDim(headDim)) {
            throw new UnsupportedOperationException("FLASH attention supports head dims 64 and 128, not " + headDim
                    + "; use the GEMM attention path (cuda-attention=gemm) for this model");
        }
    }

    /** The kernels read and write the fp32 rows of the tensor 16 bytes at a time. */
    private static void checkAligned(CudaTensor t) {
        if (t.pointer() % 16 != 0) {
            throw new IllegalArgumentException("FLASH attention: tensor " + t.name() + " starts " + t.pointer() % 16
                    + " bytes past a 16-byte boundary; the kernels move 4 floats at a time, so pass a tensor, or a view"
                    + " at an offset that is a multiple of 4 elements");
        }
    }
}
