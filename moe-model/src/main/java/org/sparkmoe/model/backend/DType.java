package org.sparkmoe.model.backend;

/** Element type of a {@link Tensor}. Model tensors are fp32; token ids and expert indices are int32. */
public enum DType {
    F32,
    I32
}
