package org.sparkmoe.model.backend.cpu;

import java.lang.foreign.MemorySegment;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * A CPU tensor: an off-heap {@link MemorySegment} of 4-byte elements (fp32 or int32), indexed by {@code long}, so a
 * tensor (the engine's parameter arena above all) may hold more than 2^31 elements. Allocations are segments of the
 * backend's arena; views are slices of them, which is how the engine's flat arenas work on the CPU. Kernels index
 * a tensor's segment from 0.
 */
record CpuTensor(String name, DType dtype, MemorySegment data) implements Tensor {

    CpuTensor view(String viewName, long start, long elements) {
        if (start < 0 || elements < 0 || start + elements > size()) {
            throw new IllegalArgumentException("view " + viewName + " [" + start + ", " + (start + elements)
                    + ") is outside tensor " + name + " of " + size() + " elements");
        }
        return new CpuTensor(viewName, dtype, data.asSlice(4 * start, 4 * elements));
    }

    @Override
    public long size() {
        return data.byteSize() / 4;
    }

    static CpuTensor of(Tensor t) {
        if (t instanceof CpuTensor c) {
            return c;
        }
        throw new IllegalArgumentException("tensor " + t.name() + " does not belong to the CPU backend");
    }

    /** The fp32 elements, checking the type. */
    static MemorySegment f(Tensor t) {
        CpuTensor c = of(t);
        if (c.dtype != DType.F32) {
            throw new IllegalArgumentException("tensor " + t.name() + " is int32 where fp32 is needed");
        }
        return c.data;
    }

    /** The int32 elements, checking the type. */
    static MemorySegment i(Tensor t) {
        CpuTensor c = of(t);
        if (c.dtype != DType.I32) {
            throw new IllegalArgumentException("tensor " + t.name() + " is fp32 where int32 is needed");
        }
        return c.data;
    }

    /** The tensor's elements as memory (4 bytes each, native order): what code outside the kernels reads and writes. */
    static MemorySegment segment(Tensor t) {
        return of(t).data;
    }
}
