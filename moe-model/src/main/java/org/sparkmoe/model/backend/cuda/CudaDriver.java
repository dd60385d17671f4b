package org.sparkmoe.model.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Hand-written FFM bindings to the CUDA driver API ({@code libcuda.so.1}): init, devices, the primary context,
 * streams, events, memory, modules and launches. Symbol names are the versioned ones that {@code cuda.h}
 * of CUDA 13 maps to (for example {@code cuMemAlloc_v2}, {@code cuEventElapsedTime_v2}). Every call's status is
 * checked; a failure names the call and {@code cuGetErrorString}'s text.
 */
public final class CudaDriver {

    static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    static final int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
    static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    // A blocking stream: it orders with the legacy stream, which the synchronous copies and memsets use.
    private static final int CU_STREAM_DEFAULT = 0;
    private static final int CUDA_ERROR_NOT_READY = 600;

    private final NativeLibrary lib;
    private final CallStats stats = new CallStats();
    private final MethodHandle cuGetErrorString;
    private final MethodHandle cuInit;
    private final MethodHandle cuDriverGetVersion;
    private final MethodHandle cuDeviceGetCount;
    private final MethodHandle cuDeviceGet;
    private final MethodHandle cuDeviceGetName;
    private final MethodHandle cuDeviceGetAttribute;
    private final MethodHandle cuDeviceTotalMem;
    private final MethodHandle cuDevicePrimaryCtxRetain;
    private final MethodHandle cuDevicePrimaryCtxRelease;
    private final MethodHandle cuCtxSetCurrent;
    private final MethodHandle cuStreamCreate;
    private final MethodHandle cuStreamSynchronize;
    private final MethodHandle cuStreamQuery;
    private final MethodHandle cuStreamDestroy;
    private final MethodHandle cuEventCreate;
    private final MethodHandle cuEventRecord;
    private final MethodHandle cuEventSynchronize;
    private final MethodHandle cuEventElapsedTime;
    private final MethodHandle cuEventDestroy;
    private final MethodHandle cuMemAlloc;
    private final MethodHandle cuMemFree;
    private final MethodHandle cuMemcpyHtoD;
    private final MethodHandle cuMemcpyDtoH;
    private final MethodHandle cuMemcpyHtoDAsync;
    private final MethodHandle cuMemAllocHost;
    private final MethodHandle cuMemFreeHost;
    private final MethodHandle cuMemsetD32;
    private final MethodHandle cuMemGetInfo;
    private final MethodHandle cuModuleLoadData;
    private final MethodHandle cuModuleGetFunction;
    private final MethodHandle cuModuleUnload;
    private final MethodHandle cuFuncSetAttribute;
    private final MethodHandle cuLaunchKernel;
    private final MethodHandle cuProfilerStart;
    private final MethodHandle cuProfilerStop;

    CudaDriver(NativeLibrary lib) {
        this.lib = lib;
        cuGetErrorString = fn("cuGetErrorString", JAVA_INT, ADDRESS);
        cuInit = fn("cuInit", JAVA_INT);
        cuDriverGetVersion = fn("cuDriverGetVersion", ADDRESS);
        cuDeviceGetCount = fn("cuDeviceGetCount", ADDRESS);
        cuDeviceGet = fn("cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetName = fn("cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceGetAttribute = fn("cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceTotalMem = fn("cuDeviceTotalMem_v2", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRetain = fn("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRelease = fn("cuDevicePrimaryCtxRelease_v2", JAVA_INT);
        cuCtxSetCurrent = fn("cuCtxSetCurrent", ADDRESS);
        cuStreamCreate = fn("cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamSynchronize = fn("cuStreamSynchronize", ADDRESS);
        cuStreamQuery = fn("cuStreamQuery", ADDRESS);
        cuStreamDestroy = fn("cuStreamDestroy_v2", ADDRESS);
        cuEventCreate = fn("cuEventCreate", ADDRESS, JAVA_INT);
        cuEventRecord = fn("cuEventRecord", ADDRESS, ADDRESS);
        cuEventSynchronize = fn("cuEventSynchronize", ADDRESS);
        cuEventElapsedTime = fn("cuEventElapsedTime_v2", ADDRESS, ADDRESS, ADDRESS);
        cuEventDestroy = fn("cuEventDestroy_v2", ADDRESS);
        cuMemAlloc = fn("cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        cuMemFree = fn("cuMemFree_v2", JAVA_LONG);
        cuMemcpyHtoD = fn("cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemcpyDtoH = fn("cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuMemcpyHtoDAsync = fn("cuMemcpyHtoDAsync_v2", JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
        cuMemAllocHost = fn("cuMemAllocHost_v2", ADDRESS, JAVA_LONG);
        cuMemFreeHost = fn("cuMemFreeHost", ADDRESS);
        cuMemsetD32 = fn("cuMemsetD32_v2", JAVA_LONG, JAVA_INT, JAVA_LONG);
        cuMemGetInfo = fn("cuMemGetInfo_v2", ADDRESS, ADDRESS);
        cuModuleLoadData = fn("cuModuleLoadData", ADDRESS, ADDRESS);
        cuModuleGetFunction = fn("cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
        cuProfilerStart = fn("cuProfilerStart");
        cuProfilerStop = fn("cuProfilerStop");
        cuModuleUnload = fn("cuModuleUnload", ADDRESS);
        cuFuncSetAttribute = fn("cuFuncSetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuLaunchKernel = fn("cuLaunchKernel", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
    }

    private MethodHandle fn(String symbol, java.lang.foreign.MemoryLayout... args) {
        return lib.function(symbol, FunctionDescriptor.of(JAVA_INT, args));
    }

    /** Loads the driver library and calls {@code cuInit(0)}. */
    public static CudaDriver load(CudaLibraries libraries) {
        CudaDriver driver = new CudaDriver(libraries.load(CudaLibraries.Library.DRIVER));
        driver.check("cuInit", driver.invokeInt(driver.cuInit, 0));
        return driver;
    }

    String libraryFile() {
        return lib.file().toString();
    }

    String errorString(int status) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int rc = (int) cuGetErrorString.invokeExact(status, out);
            return rc == 0 ? NativeLibrary.cString(out.get(ADDRESS, 0)) : "unknown CUresult " + status;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void check(String call, int status) {
        if (status != 0) {
            throw CudaException.callFailed("CUDA driver", call, status, errorString(status));
        }
    }

    public int driverVersion() {
        return readInt("cuDriverGetVersion", cuDriverGetVersion);
    }

    public int deviceCount() {
        return readInt("cuDeviceGetCount", cuDeviceGetCount);
    }

    int device(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check("cuDeviceGet(" + ordinal + ")", (int) cuDeviceGet.invokeExact(out, ordinal));
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    String deviceName(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(256);
            check("cuDeviceGetName", (int) cuDeviceGetName.invokeExact(out, 256, device));
            return out.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    int deviceAttribute(int device, int attribute) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check("cuDeviceGetAttribute(" + attribute + ")", (int) cuDeviceGetAttribute.invokeExact(out, attribute, device));
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    long deviceTotalMemory(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check("cuDeviceTotalMem_v2", (int) cuDeviceTotalMem.invokeExact(out, device));
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    long[] memoryInfo() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(JAVA_LONG);
            MemorySegment total = arena.allocate(JAVA_LONG);
            check("cuMemGetInfo_v2", (int) cuMemGetInfo.invokeExact(free, total));
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    MemorySegment retainPrimaryContext(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cuDevicePrimaryCtxRetain", (int) cuDevicePrimaryCtxRetain.invokeExact(out, device));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void releasePrimaryContext(int device) {
        check("cuDevicePrimaryCtxRelease_v2", invokeInt(cuDevicePrimaryCtxRelease, device));
    }

    void setCurrentContext(MemorySegment context) {
        check("cuCtxSetCurrent", invokeAddress(cuCtxSetCurrent, context));
    }

    MemorySegment createStream() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cuStreamCreate", (int) cuStreamCreate.invokeExact(out, CU_STREAM_DEFAULT));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void synchronizeStream(MemorySegment stream) {
        long start = System.nanoTime();
        check("cuStreamSynchronize", invokeAddress(cuStreamSynchronize, stream));
        waited(start);
    }

    /** True when everything queued on {@code stream} has finished (a wait that can give up, unlike a synchronize). */
    boolean streamIdle(MemorySegment stream) {
        int status = invokeAddress(cuStreamQuery, stream);
        if (status == CUDA_ERROR_NOT_READY) {
            return false;
        }
        check("cuStreamQuery", status);
        return true;
    }

    /**
     * Starts or stops a profiler's collection, so that one run under Nsight Compute ({@code --profile-from-start off})
     * measures the chosen steps only.
     */
    void profiling(boolean on) {
        try {
            check(on ? "cuProfilerStart" : "cuProfilerStop",
                    (int) (on ? cuProfilerStart : cuProfilerStop).invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The host-call counters of this driver. */
    CallStats stats() {
        return stats;
    }

    private void waited(long startNanos) {
        stats.waits++;
        stats.blockedNanos += System.nanoTime() - startNanos;
    }

    void destroyStream(MemorySegment stream) {
        check("cuStreamDestroy_v2", invokeAddress(cuStreamDestroy, stream));
    }

    MemorySegment createEvent() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cuEventCreate", (int) cuEventCreate.invokeExact(out, 0));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void recordEvent(MemorySegment event, MemorySegment stream) {
        try {
            check("cuEventRecord", (int) cuEventRecord.invokeExact(event, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    float elapsedMillis(MemorySegment start, MemorySegment end) {
        check("cuEventSynchronize", invokeAddress(cuEventSynchronize, end));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_FLOAT);
            check("cuEventElapsedTime_v2", (int) cuEventElapsedTime.invokeExact(out, start, end));
            return out.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void destroyEvent(MemorySegment event) {
        check("cuEventDestroy_v2", invokeAddress(cuEventDestroy, event));
    }

    long allocate(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check("cuMemAlloc_v2(" + bytes + " bytes)", (int) cuMemAlloc.invokeExact(out, bytes));
            return out.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void free(long pointer) {
        try {
            check("cuMemFree_v2", (int) cuMemFree.invokeExact(pointer));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void copyHostToDevice(long device, MemorySegment host, long bytes) {
        long start = System.nanoTime();
        try {
            check("cuMemcpyHtoD_v2", (int) cuMemcpyHtoD.invokeExact(device, host, bytes));
            waited(start);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Queues a copy from pinned host memory on {@code stream}; the host memory must stay untouched until it ran. */
    void copyHostToDeviceAsync(long device, MemorySegment pinnedHost, long bytes, MemorySegment stream) {
        try {
            check("cuMemcpyHtoDAsync_v2", (int) cuMemcpyHtoDAsync.invokeExact(device, pinnedHost, bytes, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Page-locked host memory of {@code bytes} bytes, for asynchronous copies. */
    MemorySegment allocatePinned(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cuMemAllocHost_v2(" + bytes + " bytes)", (int) cuMemAllocHost.invokeExact(out, bytes));
            return out.get(ADDRESS, 0).reinterpret(bytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void freePinned(MemorySegment pinned) {
        check("cuMemFreeHost", invokeAddress(cuMemFreeHost, pinned));
    }

    void copyDeviceToHost(MemorySegment host, long device, long bytes) {
        long start = System.nanoTime();
        try {
            check("cuMemcpyDtoH_v2", (int) cuMemcpyDtoH.invokeExact(host, device, bytes));
            waited(start);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void fill32(long device, int bits, long count) {
        try {
            check("cuMemsetD32_v2", (int) cuMemsetD32.invokeExact(device, bits, count));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    MemorySegment loadModule(MemorySegment image) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cuModuleLoadData", (int) cuModuleLoadData.invokeExact(out, image));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    MemorySegment moduleFunction(MemorySegment module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cuModuleGetFunction(" + name + ")",
                    (int) cuModuleGetFunction.invokeExact(out, module, arena.allocateFrom(name)));
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void unloadModule(MemorySegment module) {
        check("cuModuleUnload", invokeAddress(cuModuleUnload, module));
    }

    void setMaxDynamicSharedMemory(MemorySegment function, int bytes) {
        try {
            check("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES=" + bytes + ")",
                    (int) cuFuncSetAttribute.invokeExact(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void launch(String kernelName, MemorySegment function, int[] grid, int[] block, int sharedBytes, MemorySegment stream,
            MemorySegment parameterPointers) {
        try {
            int rc = (int) cuLaunchKernel.invokeExact(function, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                    sharedBytes, stream, parameterPointers, MemorySegment.NULL);
            stats.launches++;
            check("cuLaunchKernel(" + kernelName + ")", rc);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private int readInt(String call, MethodHandle handle) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(call, (int) handle.invokeExact(out));
            return out.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int invokeInt(MethodHandle handle, int argument) {
        try {
            return (int) handle.invokeExact(argument);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int invokeAddress(MethodHandle handle, MemorySegment argument) {
        try {
            return (int) handle.invokeExact(argument);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new CudaException("native call failed: " + t, t);
    }
}
