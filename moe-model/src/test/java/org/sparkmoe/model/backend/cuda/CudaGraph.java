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
 * An instantiated CUDA graph of the launches captured on a device's stream; {@link #replay()} relaunches all of them
 * in one call. Bound here, beside {@link CudaDeviceTest} which checks it, and not in the backend: the engine does not
 * capture its step (each MoE layer sizes its grouped GEMMs from expert counts read back to the host).
 */
final class CudaGraph implements AutoCloseable {

    private static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;

    private final CudaDriver driver;
    private final MethodHandle cuGraphLaunch;
    private final MethodHandle cuGraphExecDestroy;
    private final MemorySegment executable;
    private final MemorySegment stream;

    private CudaGraph(CudaDriver driver, MethodHandle cuGraphLaunch, MethodHandle cuGraphExecDestroy,
            MemorySegment executable, MemorySegment stream) {
        this.driver = driver;
        this.cuGraphLaunch = cuGraphLaunch;
        this.cuGraphExecDestroy = cuGraphExecDestroy;
        this.executable = executable;
        this.stream = stream;
    }

    /** Captures {@code work} (launches on {@code device}'s stream only) and instantiates it for replays. */
    static CudaGraph capture(CudaDevice device, Runnable work) {
        NativeLibrary lib = CudaLibraries.fromEnvironment().load(CudaLibraries.Library.DRIVER);
        MethodHandle begin = fn(lib, "cuStreamBeginCapture_v2", ADDRESS, JAVA_INT);
        MethodHandle end = fn(lib, "cuStreamEndCapture", ADDRESS, ADDRESS);
        MethodHandle instantiate = fn(lib, "cuGraphInstantiateWithFlags", ADDRESS, ADDRESS, JAVA_LONG);
        MethodHandle destroyGraph = fn(lib, "cuGraphDestroy", ADDRESS);
        CudaDriver driver = device.driver();
        MemorySegment stream = device.stream();
        try (Arena arena = Arena.ofConfined()) {
            driver.check("cuStreamBeginCapture_v2",
                    (int) begin.invokeExact(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
            work.run();
            MemorySegment graph = arena.allocate(ADDRESS);
            driver.check("cuStreamEndCapture", (int) end.invokeExact(stream, graph));
            MemorySegment exec = arena.allocate(ADDRESS);
            driver.check("cuGraphInstantiateWithFlags", (int) instantiate.invokeExact(exec, graph.get(ADDRESS, 0), 0L));
            driver.check("cuGraphDestroy", (int) destroyGraph.invokeExact(graph.get(ADDRESS, 0)));
            return new CudaGraph(driver, fn(lib, "cuGraphLaunch", ADDRESS, ADDRESS),
                    fn(lib, "cuGraphExecDestroy", ADDRESS), exec.get(ADDRESS, 0), stream);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    void replay() {
        try {
            driver.check("cuGraphLaunch", (int) cuGraphLaunch.invokeExact(executable, stream));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    @Override
    public void close() {
        try {
            driver.check("cuGraphExecDestroy", (int) cuGraphExecDestroy.invokeExact(executable));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    private static MethodHandle fn(NativeLibrary lib, String symbol, MemoryLayout... args) {
        return lib.function(symbol, FunctionDescriptor.of(JAVA_INT, args));
    }
}
