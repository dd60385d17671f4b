package org.sparkmoe.model.backend.cpu;

import java.lang.foreign.MemorySegment;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * A CPU tensor: a range {@code [offset, offset + length)} of a heap array (fp32 in {@code f}, int32 in {@code i}).
 * Allocations are whole arrays; views share them, which is how the engine's flat arenas work on the CPU.
 */
record CpuTensor(String name, DType dtype, float[] f, int[] i, int offset, int length) implements Tensor {

    static CpuTensor allocate(String name, DType dtype, long elements) {
        if (elements < 0 || elements > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor " + name + ": " + elements
                    + " elements do not fit one Java array (the CPU backend's limit is 2^31-9)");
        }
        int n = (int) elements;
        return dtype == DType.F32 ? new CpuTensor(name, dtype, new float[n], null, 0, n)
                : new CpuTensor(name, dtype, null, new int[n], 0, n);
    }

    CpuTensor view(String viewName, long start, long elements) {
        if (start < 0 || elements < 0 || start + elements > length) {
            throw new IllegalArgumentException("view " + viewName + " [" + start + ", " + (start + elements)
                    + ") is outside tensor " + name + " of " + length + " elements");
        }
        return new CpuTensor(viewName, dtype, f, i, offset + (int) start, (int) elements);
    }

    @Override
    public long size() {
        return length;
    }

    static CpuTensor of(Tensor t) {
        if (t instanceof CpuTensor c) {
            return c;
        }
        throw new IllegalArgumentException("tensor " + t.name() + " does not belong to the CPU backend");
    }

    /** The fp32 array, checking the type. */
    static float[] f(Tensor t) {
        CpuTensor c = of(t);
        if (c.f == null) {
            throw new IllegalArgumentException("tensor " + t.name() + " is int32 where fp32 is needed");
        }
        return c.f;
    }

    /** The int32 array, checking the type. */
    static int[] i(Tensor t) {
        CpuTensor c = of(t);
        if (c.i == null) {
            throw new IllegalArgumentException("tensor " + t.name() + " is fp32 where int32 is needed");
        }
        return c.i;
    }

    static int off(Tensor t) {
        return of(t).offset;
    }

    /** The tensor's elements as memory (4 bytes each, native order): what code outside the kernels reads and writes. */
    static MemorySegment segment(Tensor t) {
        CpuTensor c = of(t);
        MemorySegment whole = c.f != null ? MemorySegment.ofArray(c.f) : MemorySegment.ofArray(c.i);
        return whole.asSlice(4L * c.offset, 4L * c.length);
    }
}
