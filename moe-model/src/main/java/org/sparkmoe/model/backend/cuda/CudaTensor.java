package org.sparkmoe.model.backend.cuda;

import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * A tensor of the CUDA backend: a range of one device allocation. Allocated tensors own their {@link DeviceBuffer};
 * views share it and carry the element offset. Both fp32 and int32 elements are 4 bytes. A parameter arena and its
 * views carry the arena's bf16 {@link WeightImage} (null for every other tensor, and at fp32 GEMM precision). A
 * {@code bf16Operand} tensor ({@link CudaBackend#allocateOperand}) stores its values as bf16 GEMM operands, 2 bytes
 * each: only producers inside a produce scope write it and only GEMMs read it, so it has no fp32 {@link #pointer()}.
 */
record CudaTensor(String name, DType dtype, DeviceBuffer buffer, long offset, long size, WeightImage image,
                  boolean bf16Operand) implements Tensor {

    CudaTensor(String name, DType dtype, DeviceBuffer buffer, long offset, long size, WeightImage image) {
        this(name, dtype, buffer, offset, size, image, false);
    }

    /** Bytes per element in device memory. */
    int elementBytes() {
        return bf16Operand ? 2 : 4;
    }

    /** The device address of element 0 whatever the element's storage (bf16 operands included). */
    long address() {
        return buffer.pointer() + elementBytes() * offset;
    }

    /** The device address of fp32 or int32 element 0; refused for a bf16 operand, which no fp32 op may touch. */
    long pointer() {
        if (bf16Operand) {
            throw new IllegalStateException(name + " holds bf16 GEMM operands only (allocateOperand): inside a"
                    + " produceOperands scope dispatchRows, swigluForward, swigluBackward or combineBackward write it"
                    + " and GEMMs read it; no other op may");
        }
        return address();
    }

    /** The device address of element {@code index}. */
    long pointer(long index) {
        return pointer() + 4 * index;
    }

    /** A view of {@code elements} elements from {@code offset} of this tensor, with its image. */
    CudaTensor view(String name, long offset, long elements) {
        return new CudaTensor(name, dtype, buffer, this.offset + offset, elements, image, bf16Operand);
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
