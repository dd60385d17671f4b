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
