package org.sparkmoe.model.backend.cuda;

/** How the CUDA backend computes the experts' grouped GEMMs. The choice is logged with the backend at start. */
public enum GroupedGemmPath {
    /**
     * {@link #OWN} where it serves (bf16 GEMM precision, compute capability 8.0 or newer), {@link #CUBLAS} elsewhere;
     * the backend's start line names the choice.
     */
    AUTO,
    /**
     * {@code cublasGemmGroupedBatchedEx} ({@link GroupedGemm}): the group sizes on the host, and with bf16 operands
     * a bf16 output then a pass that forms the fp32 result (cuBLAS 13.1 has no bf16 to fp32 grouped GEMM).
     */
    CUBLAS,
    /**
     * Our tensor-core kernels ({@link DeviceGroupedGemm}; wgmma on Hopper, mma.sync elsewhere): the experts' row
     * offsets read from a device buffer, bf16 operands, fp32 outputs written directly, deterministic weight gradients
     * split along the rows. Needs bf16 GEMM precision and compute capability 8.0 or newer (refused when the backend
     * opens otherwise).
     */
    OWN
}
