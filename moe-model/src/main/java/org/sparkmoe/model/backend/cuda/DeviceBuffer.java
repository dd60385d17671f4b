package org.sparkmoe.model.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One device allocation ({@code cuMemAlloc}) of {@code elements} values of one {@link ElementType} (or raw int32/int64 for
 * index arrays, in 4-byte words). Copies are synchronous; device work on the context's stream is
 * finished first, so a download always sees every launched kernel's result.
 */
public final class DeviceBuffer implements AutoCloseable {

    private final CudaDevice device;
    private final long pointer;
    private final long bytes;
    private boolean closed;

    DeviceBuffer(CudaDevice device, long bytes) {
        this.device = device;
        this.bytes = bytes;
        this.pointer = device.driver().allocate(Math.max(bytes, 4));
    }

    /** The device address, as kernels and cuBLAS take it. */
    public long pointer() {
        return pointer;
    }

    public long bytes() {
        return bytes;
    }

    public void upload(float[] values) {
        requireBytes(4L * values.length);
        try (Arena arena = Arena.ofConfined()) {
            device.driver().copyHostToDevice(pointer, arena.allocateFrom(JAVA_FLOAT, values), 4L * values.length);
        }
    }

    public void upload(int[] values) {
        requireBytes(4L * values.length);
        try (Arena arena = Arena.ofConfined()) {
            device.driver().copyHostToDevice(pointer, arena.allocateFrom(JAVA_INT, values), 4L * values.length);
        }
    }

    public void upload(long[] values) {
        requireBytes(8L * values.length);
        try (Arena arena = Arena.ofConfined()) {
            device.driver().copyHostToDevice(pointer, arena.allocateFrom(JAVA_LONG, values), 8L * values.length);
        }
    }

    /** Uploads fp32 values as bf16 (round to nearest even), the way our kernels' {@code to_bf16} rounds. */
    public void uploadAsBf16(float[] values) {
        requireBytes(2L * values.length);
        short[] bits = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Bf16.fromFloat(values[i]);
        }
        try (Arena arena = Arena.ofConfined()) {
            device.driver().copyHostToDevice(pointer, arena.allocateFrom(JAVA_SHORT, bits), 2L * values.length);
        }
    }

    public float[] downloadFloats(int count) {
        requireBytes(4L * count);
        device.synchronize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(JAVA_FLOAT, count);
            device.driver().copyDeviceToHost(host, pointer, 4L * count);
            return host.toArray(JAVA_FLOAT);
        }
    }

    public int[] downloadInts(int count) {
        requireBytes(4L * count);
        device.synchronize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(JAVA_INT, count);
            device.driver().copyDeviceToHost(host, pointer, 4L * count);
            return host.toArray(JAVA_INT);
        }
    }

    public long[] downloadLongs(int count) {
        requireBytes(8L * count);
        device.synchronize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(JAVA_LONG, count);
            device.driver().copyDeviceToHost(host, pointer, 8L * count);
            return host.toArray(JAVA_LONG);
        }
    }

    /** Downloads bf16 values widened to fp32. */
    public float[] downloadBf16(int count) {
        requireBytes(2L * count);
        device.synchronize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(JAVA_SHORT, count);
            device.driver().copyDeviceToHost(host, pointer, 2L * count);
            float[] out = new float[count];
            for (int i = 0; i < count; i++) {
                out[i] = Bf16.toFloat(host.getAtIndex(JAVA_SHORT, i));
            }
            return out;
        }
    }

    /** Fills the buffer with a 32-bit pattern, for example a NaN to poison outputs before a kernel test. */
    public void fill32(int bits) {
        device.driver().fill32(pointer, bits, bytes / 4);
    }

    private void requireBytes(long needed) {
        if (needed > bytes) {
            throw new IllegalArgumentException("copy of " + needed + " bytes does not fit a device buffer of " + bytes + " bytes");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            device.driver().free(pointer);
        }
    }
}
