package org.sparkmoe.model.backend.cuda;

/**
 * How the CUDA backend runs its GEMMs over the engine's fp32 tensors. Both accumulate in fp32
 * ({@code CUBLAS_COMPUTE_32F}).
 */
public enum GemmPrecision {
    /** Operands rounded to bf16 on the fly (tensor cores); fp32 master weights and fp32 outputs. Training default. */
    BF16,
    /** True fp32 operands (no TF32): slower, exact to fp32 rounding. For checks against the CPU backend. */
    FP32
}
