package org.sparkmoe.model.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * FFM bindings to NCCL for the gradient all-reduce of multi-GPU training: unique ids (for one process per GPU),
 * communicators by rank or all local devices at once, and in-place sum all-reduce on a stream. NVLink multicast
 * stays off: callers keep {@code NCCL_NVLS_ENABLE=0} in the environment, as the H200 hosts it was tested on require.
 */
public final class Nccl {

    /** {@code ncclUniqueId}: 128 opaque bytes passed by value. */
    static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(128, java.lang.foreign.ValueLayout.JAVA_BYTE));
    private static final int NCCL_FLOAT32 = 7;
    private static final int NCCL_BFLOAT16 = 9;
    private static final int NCCL_SUM = 0;

    private final NativeLibrary lib;
    private final MethodHandle ncclGetErrorString;
    private final MethodHandle ncclGetVersion;
    private final MethodHandle ncclGetUniqueId;
    private final MethodHandle ncclCommInitRank;
    private final MethodHandle ncclCommInitAll;
    private final MethodHandle ncclAllReduce;
    private final MethodHandle ncclCommDestroy;

    private Nccl(NativeLibrary lib) {
        this.lib = lib;
        ncclGetErrorString = lib.function("ncclGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        ncclGetVersion = fn("ncclGetVersion", ADDRESS);
        ncclGetUniqueId = fn("ncclGetUniqueId", ADDRESS);
        ncclCommInitRank = fn("ncclCommInitRank", ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT);
        ncclCommInitAll = fn("ncclCommInitAll", ADDRESS, JAVA_INT, ADDRESS);
        ncclAllReduce = fn("ncclAllReduce", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        ncclCommDestroy = fn("ncclCommDestroy", ADDRESS);
    }

    private MethodHandle fn(String symbol, MemoryLayout... args) {
        return lib.function(symbol, FunctionDescriptor.of(JAVA_INT, args));
    }

    public static Nccl load(CudaLibraries libraries) {
        return new Nccl(libraries.load(CudaLibraries.Library.NCCL));
    }

    /** NCCL's version as major.minor.patch (NCCL 2.x packs major*10000+minor*100+patch). */
    public String version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check("ncclGetVersion", (int) ncclGetVersion.invokeExact(out));
            int v = out.get(JAVA_INT, 0);
            return (v / 10000) + "." + (v / 100 % 100) + "." + (v % 100);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** A fresh unique id (128 bytes) that rank 0 creates and sends to the other ranks. */
    public byte[] uniqueId() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment id = arena.allocate(UNIQUE_ID);
            check("ncclGetUniqueId", (int) ncclGetUniqueId.invokeExact(id));
            return id.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** Joins communicator {@code uniqueId} as {@code rank} of {@code worldSize}; the device's context must be current. */
    public MemorySegment initRank(int worldSize, byte[] uniqueId, int rank) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment id = arena.allocate(UNIQUE_ID);
            id.copyFrom(MemorySegment.ofArray(uniqueId));
            check("ncclCommInitRank(rank " + rank + " of " + worldSize + ")",
                    (int) ncclCommInitRank.invokeExact(out, worldSize, id, rank));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** One communicator per listed local device, from one process (single-process multi-GPU, and the 1-GPU test). */
    public MemorySegment[] initAll(int[] deviceOrdinals) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment comms = arena.allocate(ADDRESS, deviceOrdinals.length);
            check("ncclCommInitAll(" + deviceOrdinals.length + " devices)", (int) ncclCommInitAll.invokeExact(comms,
                    deviceOrdinals.length, arena.allocateFrom(JAVA_INT, deviceOrdinals)));
            MemorySegment[] out = new MemorySegment[deviceOrdinals.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = comms.getAtIndex(ADDRESS, i);
            }
            return out;
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** In-place sum all-reduce of {@code count} elements of {@code buffer} on the device's stream. */
    public void allReduceSum(DeviceBuffer buffer, long count, ElementType type, MemorySegment communicator, CudaDevice device) {
        int ncclType = type == ElementType.F32 ? NCCL_FLOAT32 : NCCL_BFLOAT16;
        try {
            check("ncclAllReduce(" + count + " " + type + ")", (int) ncclAllReduce.invokeExact(buffer.pointer(),
                    buffer.pointer(), count, ncclType, NCCL_SUM, communicator, device.stream()));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    public void destroy(MemorySegment communicator) {
        try {
            check("ncclCommDestroy", (int) ncclCommDestroy.invokeExact(communicator));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    private void check(String call, int status) {
        if (status != 0) {
            String text;
            try {
                text = NativeLibrary.cString((MemorySegment) ncclGetErrorString.invokeExact(status));
            } catch (Throwable t) {
                throw CudaDriver.rethrow(t);
            }
            throw CudaException.callFailed("NCCL", call, status, text);
        }
    }
}
