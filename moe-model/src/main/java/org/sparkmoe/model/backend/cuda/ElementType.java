package org.sparkmoe.model.backend.cuda;

/** Element types on the device: fp32 (master weights, optimiser state, statistics) and bf16 (compute copies, activations). */
public enum ElementType {
    F32(4, 0, "f32"),
    BF16(2, 14, "bf16");

    /** Bytes per element. */
    public final int bytes;
    /** The {@code cudaDataType_t} value cuBLAS and NCCL-adjacent calls take ({@code CUDA_R_32F}, {@code CUDA_R_16BF}). */
    final int cudaDataType;
    /** The suffix our kernels' entry points carry ({@code rmsnorm_fwd_bf16}). */
    public final String kernelSuffix;

    ElementType(int bytes, int cudaDataType, String kernelSuffix) {
        this.bytes = bytes;
        this.cudaDataType = cudaDataType;
        this.kernelSuffix = kernelSuffix;
    }
}
