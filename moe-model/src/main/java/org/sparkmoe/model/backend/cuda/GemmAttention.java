package org.sparkmoe.model.backend.cuda;

/**
 * Causal attention through cuBLAS ({@link AttentionPath#GEMM}), one sequence at a time over all heads. The heads of
 * {@code q, k, v, out} ({@code [B, T, H, Dh]}) are strided-batched matrices: row stride {@code H·Dh}, head stride
 * {@code Dh}, so no transpose is needed. Scores {@code S_HTT} live in scratch; the backward recomputes them and
 * rebuilds P from the forward's log-sum-exp, as flash attention does.
 *
 * <p>With bf16 operands the softmax kernels write P and dS in bf16 for the GEMMs that read them (S stays fp32), so
 * no separate cast pass over the {@code T×T} matrices runs.
 *
 * <p>Forward per sequence: {@code S = Q Kᵀ}, {@code P = causal softmax(S/√Dh)} (lse saved), {@code O = P V}.
 * Backward: {@code S = Q Kᵀ}, {@code P = exp(S/√Dh − lse)}, {@code dP = dO Vᵀ}, {@code dV = Pᵀ dO},
 * {@code dS = P ∘ (dP − delta)}, {@code dQ = dS K/√Dh}, {@code dK = dSᵀ Q/√Dh}, delta = rowsum(dO ∘ O).
 */
final class GemmAttention {

    private static final int ROW_THREADS = 256;

    private final CudaDevice device;
    private final Scratch scratch;
    private final ElementType operandType;

    GemmAttention(CudaDevice device, Scratch scratch, GemmPrecision precision) {
        this.device = device;
        this.scratch = scratch;
        this.operandType = precision == GemmPrecision.BF16 ? ElementType.BF16 : ElementType.F32;
    }

    void forward(CudaTensor q, CudaTensor k, CudaTensor v, CudaTensor out, CudaTensor lse, int batch, int seqLen,
            int heads, int headDim) {
        long tokens = (long) batch * seqLen * heads * headDim;
        long q16 = operand("attention-q", q.pointer(), tokens);
        long k16 = operand("attention-k", k.pointer(), tokens);
        long v16 = operand("attention-v", v.pointer(), tokens);
        long scoreElements = (long) heads * seqLen * seqLen;
        DeviceBuffer scores = scratch.get("attention-scores", 4 * scoreElements);
        float scale = (float) (1 / Math.sqrt(headDim));
        int rowStride = heads * headDim;
        for (int b = 0; b < batch; b++) {
            long rows = (long) b * seqLen * rowStride;
            scoresOf(q16, k16, rows, scores.pointer(), seqLen, heads, headDim);
            long p = scores.pointer();
            if (operandType == ElementType.BF16) {
                p = scratch.get("attention-p", 2 * scoreElements).pointer();
                device.launch("causal_softmax_rows_bf16", Dim3.of(heads * seqLen), Dim3.of(ROW_THREADS), 0,
                        scores.pointer(), p, lse.pointer((long) b * heads * seqLen), heads, seqLen, scale);
            } else {
                device.launch("causal_softmax_rows", Dim3.of(heads * seqLen), Dim3.of(ROW_THREADS), 0,
                        scores.pointer(), lse.pointer((long) b * heads * seqLen), heads, seqLen, scale);
            }
            device.cublas().gemmStridedBatched(operandType, ElementType.F32, false, false, seqLen, headDim, seqLen, 1f,
                    p, seqLen, (long) seqLen * seqLen, v16 + rows * operandType.bytes, rowStride, headDim, 0f,
                    out.pointer(rows), rowStride, headDim, heads);
        }
    }

    void backward(CudaTensor dOut, CudaTensor q, CudaTensor k, CudaTensor v, CudaTensor out, CudaTensor lse,
            CudaTensor dq, CudaTensor dk, CudaTensor dv, int batch, int seqLen, int heads, int headDim) {
        long tokens = (long) batch * seqLen * heads * headDim;
        DeviceBuffer delta = scratch.get("attention-delta", 4L * batch * heads * seqLen);
        device.launch("attention_delta", Dim3.of(batch * seqLen * heads), Dim3.of(32), 0, dOut.pointer(), out.pointer(),
                delta.pointer(), batch, seqLen, heads, headDim);
        long q16 = operand("attention-q", q.pointer(), tokens);
        long k16 = operand("attention-k", k.pointer(), tokens);
        long v16 = operand("attention-v", v.pointer(), tokens);
        long dO16 = operand("attention-dout", dOut.pointer(), tokens);
        long scoreElements = (long) heads * seqLen * seqLen;
        DeviceBuffer probs = scratch.get("attention-scores", 4 * scoreElements);
        DeviceBuffer grads = scratch.get("attention-score-grads", 4 * scoreElements);
        float scale = (float) (1 / Math.sqrt(headDim));
        int rowStride = heads * headDim;
        long square = (long) seqLen * seqLen;
        for (int b = 0; b < batch; b++) {
            long rows = (long) b * seqLen * rowStride;
            long rowBytes = rows * operandType.bytes;
            long lseB = lse.pointer((long) b * heads * seqLen);
            long deltaB = delta.pointer() + 4L * b * heads * seqLen;
            scoresOf(q16, k16, rows, probs.pointer(), seqLen, heads, headDim);
            boolean bf16 = operandType == ElementType.BF16;
            long p = bf16 ? scratch.get("attention-p", 2 * scoreElements).pointer() : probs.pointer();
            long dS = bf16 ? scratch.get("attention-ds", 2 * scoreElements).pointer() : grads.pointer();
            if (bf16) {
                device.launch("causal_probs_from_lse_bf16", Dim3.of(heads * seqLen), Dim3.of(ROW_THREADS), 0,
                        probs.pointer(), p, lseB, heads, seqLen, scale);
            } else {
                device.launch("causal_probs_from_lse", Dim3.of(heads * seqLen), Dim3.of(ROW_THREADS), 0,
                        probs.pointer(), lseB, heads, seqLen, scale);
            }
            // dP = dO Vᵀ
            device.cublas().gemmStridedBatched(operandType, ElementType.F32, false, true, seqLen, seqLen, headDim, 1f,
                    dO16 + rowBytes, rowStride, headDim, v16 + rowBytes, rowStride, headDim, 0f, grads.pointer(), seqLen,
                    square, heads);
            // dV = Pᵀ dO
            device.cublas().gemmStridedBatched(operandType, ElementType.F32, true, false, seqLen, headDim, seqLen, 1f,
                    p, seqLen, square, dO16 + rowBytes, rowStride, headDim, 0f, dv.pointer(rows), rowStride, headDim,
                    heads);
            if (bf16) {
                device.launch("causal_score_grads_bf16", Dim3.of(heads * seqLen), Dim3.of(ROW_THREADS), 0, p,
                        grads.pointer(), dS, deltaB, heads, seqLen);
            } else {
                device.launch("causal_score_grads", Dim3.of(heads * seqLen), Dim3.of(ROW_THREADS), 0,
                        probs.pointer(), grads.pointer(), deltaB, heads, seqLen);
            }
            // dQ = dS K / √Dh ; dK = dSᵀ Q / √Dh
            device.cublas().gemmStridedBatched(operandType, ElementType.F32, false, false, seqLen, headDim, seqLen,
                    scale, dS, seqLen, square, k16 + rowBytes, rowStride, headDim, 0f, dq.pointer(rows), rowStride,
                    headDim, heads);
            device.cublas().gemmStridedBatched(operandType, ElementType.F32, true, false, seqLen, headDim, seqLen,
                    scale, dS, seqLen, square, q16 + rowBytes, rowStride, headDim, 0f, dk.pointer(rows), rowStride,
                    headDim, heads);
        }
    }

    /** {@code S_h = Q_h K_hᵀ} for every head of the sequence starting at element {@code rows}. */
    private void scoresOf(long q, long k, long rows, long scores, int seqLen, int heads, int headDim) {
        int rowStride = heads * headDim;
        long rowBytes = rows * operandType.bytes;
        device.cublas().gemmStridedBatched(operandType, ElementType.F32, false, true, seqLen, seqLen, headDim, 1f,
                q + rowBytes, rowStride, headDim, k + rowBytes, rowStride, headDim, 0f, scores, seqLen,
                (long) seqLen * seqLen, heads);
    }

    /** The operand's address for cuBLAS: itself in fp32 mode, else a bf16 copy in the named scratch buffer. */
    private long operand(String name, long pointer, long elements) {
        return operandType == ElementType.F32 ? pointer : scratch.bf16Copy(name, pointer, elements);
    }
}
