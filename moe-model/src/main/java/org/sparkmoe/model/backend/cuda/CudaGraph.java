package org.sparkmoe.model.backend.cuda;

import java.lang.foreign.MemorySegment;

/** An instantiated CUDA graph of captured launches; {@link #replay()} relaunches all of them in one call. */
public final class CudaGraph implements AutoCloseable {

    private final CudaDriver driver;
    private final MemorySegment executable;
    private final MemorySegment stream;

    CudaGraph(CudaDriver driver, MemorySegment executable, MemorySegment stream) {
        this.driver = driver;
        this.executable = executable;
        this.stream = stream;
    }

    public void replay() {
        driver.launchGraph(executable, stream);
    }

    @Override
    public void close() {
        driver.destroyGraph(executable);
    }
}
