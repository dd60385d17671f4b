package org.sparkmoe.model.backend.cpu;

/**
 * Which operands of a GEMM are stored transposed. Row-major throughout; the suffix names the stored shape.
 */
public enum GemmCase {
    /** C_MN (+)= A_MK · B_KN. */
    NN,
    /** C_MN (+)= A_MK · B_NK^T: a linear layer's forward, x · Wᵀ with W stored [out, in]. */
    NT,
    /** C_MN (+)= A_KM^T · B_KN: a weight gradient, dW = dYᵀ · X. */
    TN;

    /** Whether A is stored K×M. */
    boolean aTransposed() {
        return this == TN;
    }

    /** Whether B is stored N×K. */
    boolean bTransposed() {
        return this == NT;
    }
}
