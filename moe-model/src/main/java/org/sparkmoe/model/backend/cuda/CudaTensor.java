package org.sparkmoe.model.backend.cuda;

import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * A tensor of the CUDA backend: a range of one device allocation. Allocated tensors own their {@link DeviceBuffer};
 * views share it and carry the element offset. Both fp32 and int32 elements are 4 bytes.
 */
record CudaTensor(String name, DType dtype, DeviceBuffer buffer, long offset, long size) implements Tensor {

    /** The device address of element 0 of this tensor. */
    long pointer() {
        return buffer.pointer() + 4 * offset;
    }

    /** The device address of element {@code index}. */
    long pointer(long index) {
        return pointer() + 4 * index;
    }

    static CudaTensor of(Tensor t) {
        if (t instanceof CudaTensor c) {
            return c;
        }
        throw new IllegalArgumentException("tensor " + t.name() + " belongs to another backend (" + t.getClass().getName()
                + "); the CUDA backend takes only its own tensors");
    }
}
