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
 * FFM bindings to NCCL for multi-GPU training: unique ids (for one process per GPU), communicators by rank or all
 * local devices at once, the collectives {@link NcclCollective} runs on a device's stream (all-reduce sum and mean,
 * all-gather, broadcast, and point-to-point send/receive grouped into an all-to-all), and the error polling and abort
 * that let a rank give up on a failed peer. NVLink multicast stays off: callers keep {@code NCCL_NVLS_ENABLE=0} in
 * the environment, as the H200 hosts it was tested on require.
 */
public final class Nccl {

    /** {@code ncclUniqueId}: 128 opaque bytes passed by value. */
    static final MemoryLayout UNIQUE_ID = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(128, java.lang.foreign.ValueLayout.JAVA_BYTE));
    static final int NCCL_INT32 = 2;
    static final int NCCL_INT64 = 4;
    static final int NCCL_FLOAT32 = 7;
    private static final int NCCL_BFLOAT16 = 9;
    static final int NCCL_SUM = 0;
    static final int NCCL_AVG = 4;

    private final NativeLibrary lib;
    private final MethodHandle ncclGetErrorString;
    private final MethodHandle ncclGetVersion;
    private final MethodHandle ncclGetUniqueId;
    private final MethodHandle ncclCommInitRank;
    private final MethodHandle ncclCommInitAll;
    private final MethodHandle ncclAllReduce;
    private final MethodHandle ncclCommDestroy;
    private final MethodHandle ncclAllGather;
    private final MethodHandle ncclBroadcast;
    private final MethodHandle ncclSend;
    private final MethodHandle ncclRecv;
    private final MethodHandle ncclGroupStart;
    private final MethodHandle ncclGroupEnd;
    private final MethodHandle ncclCommGetAsyncError;
    private final MethodHandle ncclCommAbort;

    private Nccl(NativeLibrary lib) {
        this.lib = lib;
        ncclGetErrorString = lib.function("ncclGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        ncclGetVersion = fn("ncclGetVersion", ADDRESS);
        ncclGetUniqueId = fn("ncclGetUniqueId", ADDRESS);
        ncclCommInitRank = fn("ncclCommInitRank", ADDRESS, JAVA_INT, UNIQUE_ID, JAVA_INT);
        ncclCommInitAll = fn("ncclCommInitAll", ADDRESS, JAVA_INT, ADDRESS);
        ncclAllReduce = fn("ncclAllReduce", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        ncclCommDestroy = fn("ncclCommDestroy", ADDRESS);
        ncclAllGather = fn("ncclAllGather", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
        ncclBroadcast = fn("ncclBroadcast", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        ncclSend = fn("ncclSend", JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        ncclRecv = fn("ncclRecv", JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        ncclGroupStart = fn("ncclGroupStart");
        ncclGroupEnd = fn("ncclGroupEnd");
        ncclCommGetAsyncError = fn("ncclCommGetAsyncError", ADDRESS, ADDRESS);
        ncclCommAbort = fn("ncclCommAbort", ADDRESS);
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
        allReduce(buffer.pointer(), count, type == ElementType.F32 ? NCCL_FLOAT32 : NCCL_BFLOAT16, NCCL_SUM,
                communicator, device);
    }

    /** In-place all-reduce ({@code op}: {@link #NCCL_SUM} or {@link #NCCL_AVG}) of {@code count} elements at {@code pointer}. */
    void allReduce(long pointer, long count, int ncclType, int op, MemorySegment communicator, CudaDevice device) {
        try {
            check("ncclAllReduce(" + count + " elements)", (int) ncclAllReduce.invokeExact(pointer, pointer, count,
                    ncclType, op, communicator, device.stream()));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** {@code recv[r·count ..] = send of rank r}, on the device's stream. */
    void allGather(long send, long recv, long count, int ncclType, MemorySegment communicator, CudaDevice device) {
        try {
            check("ncclAllGather(" + count + " elements per rank)", (int) ncclAllGather.invokeExact(send, recv, count,
                    ncclType, communicator, device.stream()));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** In place: every rank's {@code count} elements at {@code pointer} become rank {@code root}'s. */
    void broadcast(long pointer, long count, int ncclType, int root, MemorySegment communicator, CudaDevice device) {
        try {
            check("ncclBroadcast(" + count + " elements from rank " + root + ")", (int) ncclBroadcast.invokeExact(pointer,
                    pointer, count, ncclType, root, communicator, device.stream()));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** Queues a send of {@code count} elements to {@code peer}; inside {@link #groupStart}/{@link #groupEnd}. */
    void send(long pointer, long count, int ncclType, int peer, MemorySegment communicator, CudaDevice device) {
        try {
            check("ncclSend(" + count + " elements to rank " + peer + ")", (int) ncclSend.invokeExact(pointer, count,
                    ncclType, peer, communicator, device.stream()));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** Queues a receive of {@code count} elements from {@code peer}; inside {@link #groupStart}/{@link #groupEnd}. */
    void recv(long pointer, long count, int ncclType, int peer, MemorySegment communicator, CudaDevice device) {
        try {
            check("ncclRecv(" + count + " elements from rank " + peer + ")", (int) ncclRecv.invokeExact(pointer, count,
                    ncclType, peer, communicator, device.stream()));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** Opens a group: the sends and receives up to {@link #groupEnd} are issued together (no pair waits on another). */
    void groupStart() {
        try {
            check("ncclGroupStart", (int) ncclGroupStart.invokeExact());
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    void groupEnd() {
        try {
            check("ncclGroupEnd", (int) ncclGroupEnd.invokeExact());
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** The communicator's asynchronous error (a failed peer or network), 0 while there is none. */
    int asyncError(MemorySegment communicator) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check("ncclCommGetAsyncError", (int) ncclCommGetAsyncError.invokeExact(communicator, out));
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** Abandons the communicator and its queued work (after a failure; {@link #destroy} would wait for it). */
    void abort(MemorySegment communicator) {
        try {
            check("ncclCommAbort", (int) ncclCommAbort.invokeExact(communicator));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** NCCL's text for a status code. */
    String errorText(int status) {
        try {
            return NativeLibrary.cString((MemorySegment) ncclGetErrorString.invokeExact(status));
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
            throw CudaException.callFailed("NCCL", call, status, errorText(status));
        }
    }
}
