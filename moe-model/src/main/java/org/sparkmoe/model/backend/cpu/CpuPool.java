package org.sparkmoe.model.backend.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * A fixed pool of daemon threads for the CPU backend's non-GEMM ops (never the common pool). Work is split into
 * {@code threads} contiguous chunks of task indices; each index's outputs must be disjoint, which keeps results
 * independent of scheduling.
 */
final class CpuPool implements AutoCloseable {

    private final int threads;
    private final ExecutorService executor;

    CpuPool(int threads) {
        this.threads = threads;
        this.executor = threads == 1 ? null : Executors.newFixedThreadPool(threads, r -> {
            Thread thread = new Thread(r, "sparkmoe-cpu-ops");
            thread.setDaemon(true);
            return thread;
        });
    }

    int threads() {
        return threads;
    }

    /** Runs {@code body} for 0..n-1, in {@code threads} contiguous chunks; the caller runs the first chunk. */
    void parallelFor(int n, IntConsumer body) {
        int chunks = Math.min(threads, n);
        if (chunks <= 1) {
            for (int i = 0; i < n; i++) {
                body.accept(i);
            }
            return;
        }
        List<Future<?>> futures = new ArrayList<>(chunks - 1);
        for (int c = 1; c < chunks; c++) {
            int from = (int) ((long) n * c / chunks);
            int to = (int) ((long) n * (c + 1) / chunks);
            futures.add(executor.submit(() -> {
                for (int i = from; i < to; i++) {
                    body.accept(i);
                }
            }));
        }
        int firstEnd = n / chunks;
        for (int i = 0; i < firstEnd; i++) {
            body.accept(i);
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for CPU workers", e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("a CPU worker failed: " + e.getCause(), e.getCause());
            }
        }
    }

    @Override
    public void close() {
        if (executor != null) {
            executor.shutdownNow();
        }
    }
}
