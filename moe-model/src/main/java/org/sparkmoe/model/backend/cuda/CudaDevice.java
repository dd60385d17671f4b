package org.sparkmoe.model.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * One opened GPU: the driver, the device's primary context (current on the opening thread; other threads call
 * {@link #bindToThread()}), one blocking stream that every launch and cuBLAS call goes to, the cuBLAS handle and
 * the compiled kernels. Logs the device, the libraries and their versions when opened.
 */
public final class CudaDevice implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(CudaDevice.class.getName());

    private final CudaDriver driver;
    private final int device;
    private final DeviceInfo info;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final Cublas cublas;
    private final KernelLibrary kernels;

    /** What the start-up log says about the device. */
    public record DeviceInfo(int ordinal, String name, int computeMajor, int computeMinor, int multiprocessors,
            long totalMemoryBytes, int l2Bytes, int maxSharedPerBlockOptIn, int driverVersion) {

        /**
         * The NVRTC real architecture for this device, for example {@code sm_89}; Hopper's {@code sm_90a}, whose
         * architecture-specific instructions (wgmma) the grouped GEMM kernels use. Such a build runs on compute
         * capability 9.0 only, which is the device it is made for.
         */
        public String architecture() {
            return "sm_" + computeMajor + computeMinor + (computeMajor == 9 && computeMinor == 0 ? "a" : "");
        }
    }

    private CudaDevice(CudaLibraries libraries, DeviceSelection selection, Path kernelCache) {
        driver = CudaDriver.load(libraries);
        int count = driver.deviceCount();
        if (selection.ordinal() >= count) {
            throw new CudaException("CUDA device " + selection.ordinal() + " (from " + selection.source() + ") does not exist: "
                    + count + " device(s) visible (check CUDA_VISIBLE_DEVICES)");
        }
        device = driver.device(selection.ordinal());
        info = new DeviceInfo(selection.ordinal(), driver.deviceName(device),
                driver.deviceAttribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                driver.deviceAttribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                driver.deviceAttribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
                driver.deviceTotalMemory(device),
                driver.deviceAttribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE),
                driver.deviceAttribute(device, CudaDriver.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
                driver.driverVersion());
        context = driver.retainPrimaryContext(device);
        driver.setCurrentContext(context);
        stream = driver.createStream();
        cublas = Cublas.create(libraries, stream, driver.stats());
        Nvrtc nvrtc = Nvrtc.load(libraries);
        kernels = KernelLibrary.build(driver, nvrtc, info.architecture(), kernelCache);
        LOG.log(System.Logger.Level.INFO, "CUDA device {0} ''{1}'' ({2}, {3} SMs, {4} GiB, driver {5}) chosen by {6};"
                + " cuBLAS {7} ({8}), NVRTC {9} ({10}), grouped GEMM: {11}",
                info.ordinal(), info.name(), info.architecture(), info.multiprocessors(),
                info.totalMemoryBytes() >> 30, info.driverVersion(), selection.source(), cublas.version(),
                cublas.libraryFile(), nvrtc.version(), nvrtc.libraryFile(),
                cublas.hasGroupedGemm() ? "cublasGemmGroupedBatchedEx" : "one cublasGemmEx per expert (no grouped API)");
    }

    /** Opens the selected device with the default kernel cache folder. */
    public static CudaDevice open(DeviceSelection selection) {
        return new CudaDevice(CudaLibraries.fromEnvironment(), selection, KernelLibrary.defaultCacheFolder());
    }

    public DeviceInfo info() {
        return info;
    }

    public Cublas cublas() {
        return cublas;
    }

    CudaDriver driver() {
        return driver;
    }

    MemorySegment stream() {
        return stream;
    }

    /** Counters of launches, GEMM calls and host waits on this device (for profiling a step). */
    public CallStats stats() {
        return driver.stats();
    }

    /**
     * Turns a profiler's collection on or off after the queued work (Nsight Compute with {@code --profile-from-start
     * off} then measures only what ran in between).
     */
    public void profiling(boolean on) {
        synchronize();
        driver.profiling(on);
    }

    /** Makes this device's context current on the calling thread. */
    public void bindToThread() {
        driver.setCurrentContext(context);
    }

    public DeviceBuffer allocate(long elements, ElementType type) {
        return new DeviceBuffer(this, elements * type.bytes);
    }

    /** Waits for everything launched on this device's stream. */
    public void synchronize() {
        driver.synchronizeStream(stream);
    }

    /** Free and total device memory in bytes. */
    public long[] memoryInfo() {
        return driver.memoryInfo();
    }

    /**
     * Launches kernel {@code name} on this device's stream. Arguments are packed by type: {@link DeviceBuffer} and
     * {@code Long} as 64-bit values, {@code Integer} as int32, {@code Float} as fp32.
     */
    public void launch(String name, Dim3 grid, Dim3 block, int sharedBytes, Object... arguments) {
        MemorySegment function = kernels.function(name);
        if (sharedBytes > 48 * 1024) {
            driver.setMaxDynamicSharedMemory(function, sharedBytes);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pointers = arena.allocate(ADDRESS, Math.max(1, arguments.length));
            for (int i = 0; i < arguments.length; i++) {
                pointers.setAtIndex(ADDRESS, i, argumentSlot(arena, name, i, arguments[i]));
            }
            driver.launch(name, function, grid.asArray(), block.asArray(), sharedBytes, stream, pointers);
        }
    }

    private static MemorySegment argumentSlot(Arena arena, String kernel, int index, Object argument) {
        return switch (argument) {
            case DeviceBuffer buffer -> arena.allocateFrom(JAVA_LONG, buffer.pointer());
            case Long value -> arena.allocateFrom(JAVA_LONG, value);
            case Integer value -> arena.allocateFrom(JAVA_INT, value);
            case Float value -> arena.allocateFrom(JAVA_FLOAT, value);
            case null -> arena.allocateFrom(JAVA_LONG, 0L);
            default -> throw new IllegalArgumentException("kernel " + kernel + " argument " + index + " has unsupported type "
                    + argument.getClass().getName() + "; pass DeviceBuffer, Long, Integer or Float");
        };
    }

    /** Times {@code work} on the device's stream with CUDA events; returns milliseconds. */
    public float time(Runnable work) {
        MemorySegment start = driver.createEvent();
        MemorySegment end = driver.createEvent();
        try {
            driver.recordEvent(start, stream);
            work.run();
            driver.recordEvent(end, stream);
            return driver.elapsedMillis(start, end);
        } finally {
            driver.destroyEvent(start);
            driver.destroyEvent(end);
        }
    }

    @Override
    public void close() {
        synchronize();
        kernels.close();
        cublas.close();
        driver.destroyStream(stream);
        driver.releasePrimaryContext(device);
    }
}
