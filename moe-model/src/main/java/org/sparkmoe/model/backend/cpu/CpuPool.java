package org.sparkmoe.model.backend.cpu;

import java.util.function.IntConsumer;

/**
 * The CPU backend's threads: one {@link CpuThreadPool} for its GEMMs and for its other ops, which split task
 * indices into contiguous chunks, one per thread. Each index's outputs must be disjoint, which keeps results
 * independent of scheduling and of the thread count.
 */
final class CpuPool implements AutoCloseable {

    private final CpuThreadPool threads;
    private final boolean owned;

    /** Uses {@code threads}; closes it on {@link #close()} only when {@code owned}. */
    CpuPool(CpuThreadPool threads, boolean owned) {
        this.threads = threads;
        this.owned = owned;
    }

    /** The pool GEMMs run on. */
    CpuThreadPool gemm() {
        return threads;
    }

    int threads() {
        return threads.threads();
    }

    /** Runs {@code body} for 0..n-1 in {@code threads} contiguous chunks (the caller runs the first). */
    void parallelFor(int n, IntConsumer body) {
        int chunks = Math.min(threads.threads(), n);
        threads.forEach(chunks, c -> {
            int to = (int) ((long) n * (c + 1) / chunks);
            for (int i = (int) ((long) n * c / chunks); i < to; i++) {
                body.accept(i);
            }
        });
    }

    @Override
    public void close() {
        if (owned) {
            threads.close();
        }
    }
}
