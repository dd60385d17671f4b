package org.sparkmoe.model.backend;

/**
 * An opaque, flat, contiguous buffer owned by one {@link Backend}: host memory on the CPU backend, device memory
 * on CUDA. Shapes are not stored; every op takes its dimensions explicitly and documents the row-major layout it
 * expects (llm.c style). A tensor is either allocated ({@link Backend#allocate}) or a view of a range of another
 * ({@link Backend#view}); views are how the engine carves parameters, gradients and activations out of arenas.
 */
public interface Tensor {

    /** Element type. */
    DType dtype();

    /** Number of elements. */
    long size();

    /** A name for error messages and logs (e.g. {@code model.layers.3.self_attn.q_proj.weight}). */
    String name();
}
