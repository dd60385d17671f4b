package org.sparkmoe.model.backend.cuda;

import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * A tensor of the CUDA backend: a range of one device allocation. Allocated tensors own their {@link DeviceBuffer};
 * views share it and carry the element offset. Both fp32 and int32 elements are 4 bytes. A parameter arena and its
 * views carry the arena's bf16 {@link WeightImage} (null for every other tensor, and at fp32 GEMM precision).
 */
record CudaTensor(String name, DType dtype, DeviceBuffer buffer, long offset, long size, WeightImage image)
        implements Tensor {

    /** The device address of element 0 of this tensor. */
    long pointer() {
        return buffer.pointer() + 4 * offset;
    }

    /** The device address of element {@code index}. */
    long pointer(long index) {
        return pointer() + 4 * index;
    }

    /** A view of {@code elements} elements from {@code offset} of this tensor, with its image. */
    CudaTensor view(String name, long offset, long elements) {
        return new CudaTensor(name, dtype, buffer, this.offset + offset, elements, image);
    }

    /**
     * Says that this tensor is about to be written other than by AdamW (see {@link WeightImage}): a parameter arena's
     * image becomes stale. Returns this tensor.
     */
    CudaTensor written() {
        if (image != null) {
            image.written();
        }
        return this;
    }

    static CudaTensor of(Tensor t) {
        if (t instanceof CudaTensor c) {
            return c;
        }
        throw new IllegalArgumentException("tensor " + t.name() + " belongs to another backend (" + t.getClass().getName()
                + "); the CUDA backend takes only its own tensors");
    }
}
