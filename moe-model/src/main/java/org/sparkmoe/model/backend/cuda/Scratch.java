package org.sparkmoe.model.backend.cuda;

import java.util.HashMap;
import java.util.Map;

/**
 * Named device scratch buffers that grow on demand (bf16 operand copies, attention's delta, reduction partials).
 * All work runs on one stream in order, so reusing a buffer between ops is safe; growing one waits for the stream
 * first, so a buffer is never freed under a queued kernel.
 */
final class Scratch implements AutoCloseable {

    private final CudaDevice device;
    private final Map<String, DeviceBuffer> buffers = new HashMap<>();

    Scratch(CudaDevice device) {
        this.device = device;
    }

    DeviceBuffer get(String name, long bytes) {
        DeviceBuffer current = buffers.get(name);
        if (current != null && current.bytes() >= bytes) {
            return current;
        }
        if (current != null) {
            device.synchronize();
            current.close();
        }
        DeviceBuffer grown = new DeviceBuffer(device, Math.max(bytes, current == null ? 0 : current.bytes() * 3 / 2));
        buffers.put(name, grown);
        return grown;
    }

    /**
     * A bf16 copy (round to nearest even) of the {@code elements} fp32 values at {@code pointer}, written into the
     * named buffer on the stream; returns the copy's address. The attention paths' operands go through it.
     */
    long bf16Copy(String name, long pointer, long elements) {
        DeviceBuffer copy = get(name, 2 * elements);
        int blocks = (int) Math.max(1, Math.min(device.info().multiprocessors() * 8L, (elements + 255) / 256));
        device.launch("cast_f32_bf16", Dim3.of(blocks), Dim3.of(256), 0, pointer, copy.pointer(), elements);
        return copy.pointer();
    }

    /** Bytes held by all scratch buffers now. */
    long bytes() {
        return buffers.values().stream().mapToLong(DeviceBuffer::bytes).sum();
    }

    @Override
    public void close() {
        device.synchronize();
        buffers.values().forEach(DeviceBuffer::close);
        buffers.clear();
    }
}
