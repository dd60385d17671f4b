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
    FUSED
}
