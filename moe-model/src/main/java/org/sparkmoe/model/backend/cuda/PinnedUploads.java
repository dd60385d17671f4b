package org.sparkmoe.model.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;

/**
 * Small host → device copies (the grouped GEMMs' pointer tables, the embedding backward's token grouping, the
 * experts' slot indices) queued on the device's stream from a pinned ring
 * buffer, so issuing them never waits for the device: a synchronous copy from pageable memory would drain the stream
 * each time. When the ring wraps, the stream is synchronised once, so no queued copy still reads the slice reused.
 */
final class PinnedUploads implements AutoCloseable {

    private static final long CAPACITY = 8 << 20;
    private static final long ALIGN = 256;

    private final CudaDevice device;
    private final MemorySegment ring;
    private long next;

    PinnedUploads(CudaDevice device) {
        this.device = device;
        this.ring = device.driver().allocatePinned(CAPACITY);
    }

    /** Queues {@code values} to be copied to {@code devicePointer} in stream order. */
    void upload(long[] values, long devicePointer) {
        MemorySegment slice = take(8L * values.length);
        MemorySegment.copy(values, 0, slice, JAVA_LONG, 0, values.length);
        device.driver().copyHostToDeviceAsync(devicePointer, slice, slice.byteSize(), device.stream());
    }

    /** Queues {@code values[0, count)} to be copied to {@code devicePointer} in stream order. */
    void upload(int[] values, int count, long devicePointer) {
        MemorySegment slice = take(4L * count);
        MemorySegment.copy(values, 0, slice, JAVA_INT, 0, count);
        device.driver().copyHostToDeviceAsync(devicePointer, slice, slice.byteSize(), device.stream());
    }

    private MemorySegment take(long bytes) {
        if (bytes > CAPACITY) {
            throw new IllegalArgumentException("upload of " + bytes + " bytes exceeds the pinned ring of " + CAPACITY
                    + " bytes; use a synchronous copy");
        }
        if (next + bytes > CAPACITY) {
            device.synchronize();
            next = 0;
        }
        MemorySegment slice = ring.asSlice(next, bytes);
        next += (bytes + ALIGN - 1) / ALIGN * ALIGN;
        return slice;
    }

    @Override
    public void close() {
        device.synchronize();
        device.driver().freePinned(ring);
    }
}
