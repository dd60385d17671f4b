package org.sparkmoe.model.backend.cuda;

/** How the CUDA backend computes causal attention. The choice is logged with the backend at start. */
public enum AttentionPath {
    /**
     * The score and probability matrices of one sequence (all heads) go through cuBLAS strided-batched GEMMs, with our
     * causal softmax kernels between them; the backward recomputes the scores from the saved log-sum-exp. Tensor-core
     * speed; needs {@code 10·H·T²} bytes of scratch. Any head dim.
     */
    GEMM,
    /**
     * Our fused flash-style kernels: one warp per query (forward, dq) or key (dk, dv) row, online softmax, scores never
     * in memory; fp32 on CUDA cores. Head dims 32, 64 and 128.
     */
    FUSED,
    /**
     * FlashAttention-2 style kernels on tensor cores ({@link FlashAttention}): blocks of 64 query rows, scores and
     * probabilities in registers (bf16 {@code mma.sync}, fp32 accumulation and softmax), no T² scratch; the backward
     * is deterministic (dK/dV and dQ in two passes, no float atomics). bf16 operands whatever the GEMM precision.
     * Head dims 64 and 128; compute capability 8.0 or newer (an older GPU is refused when the backend opens).
     */
    FLASH,
    /**
     * FLASH where its kernels serve (bf16 GEMM precision, compute capability 8.0 or newer, head dims 64 and 128),
     * else GEMM: the fastest path measured on an H200 (docs/benchmarks.md) without changing what an fp32 run computes.
     * The backend's description says which path each head dim takes.
     */
    AUTO
}
