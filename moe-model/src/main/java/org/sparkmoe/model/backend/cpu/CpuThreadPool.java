package org.sparkmoe.model.backend.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * A fixed pool of kernel threads sized to the cores, never the common pool. The calling thread runs one share of
 * the work itself, so a pool of {@code threads} keeps {@code threads - 1} workers. Work submitted from inside a
 * worker runs serially on that worker: kernels never nest parallelism.
 *
 * <p>The shared pool's size comes from the system property {@value #THREADS_PROPERTY} (default: the available
 * processors). An engine running inside a Spark task that already owns a core should use {@link #serial()}.
 */
public final class CpuThreadPool implements AutoCloseable {
    /** System property that sizes {@link #shared()}. */
    public static final String THREADS_PROPERTY = "sparkmoe.cpu.threads";

    private static final System.Logger LOG = System.getLogger(CpuThreadPool.class.getName());
    private static final ThreadLocal<Boolean> IS_WORKER = ThreadLocal.withInitial(() -> false);
    private static final CpuThreadPool SERIAL = new CpuThreadPool(1);

    private final int threads;
    private final ExecutorService workers;

    private CpuThreadPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("CpuThreadPool: threads must be >= 1, got " + threads);
        }
        this.threads = threads;
        this.workers = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, runnable -> {
            Thread thread = new Thread(() -> {
                IS_WORKER.set(true);
                runnable.run();
            }, "sparkmoe-cpu-kernel");
            thread.setDaemon(true);
            return thread;
        });
    }

    /** A new pool of {@code threads} threads (the caller counts as one); close it when done. */
    public static CpuThreadPool create(int threads) {
        return new CpuThreadPool(threads);
    }

    /** A pool that runs everything on the calling thread. */
    public static CpuThreadPool serial() {
        return SERIAL;
    }

    /** The process-wide pool, sized by {@value #THREADS_PROPERTY} or the available processors. */
    public static CpuThreadPool shared() {
        return Shared.POOL;
    }

    /** Threads this pool runs work on, the caller included. */
    public int threads() {
        return threads;
    }

    /**
     * Runs {@code body.accept(part)} for every part in {@code [0, parts)} and returns when all are done; the
     * first failure is rethrown. Parts must be independent of each other.
     */
    public void forEach(int parts, IntConsumer body) {
        if (parts <= 1 || workers == null || IS_WORKER.get()) {
            for (int part = 0; part < parts; part++) body.accept(part);
            return;
        }
        List<Future<?>> pending = new ArrayList<>(parts - 1);
        for (int part = 1; part < parts; part++) {
            int mine = part;
            pending.add(workers.submit(() -> body.accept(mine)));
        }
        RuntimeException failure = null;
        try {
            body.accept(0);
        } catch (RuntimeException e) {
            failure = e;
        }
        for (Future<?> future : pending) {
            try {
                future.get();
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = new IllegalStateException("interrupted while waiting for kernel threads", e);
            }
        }
        if (failure != null) throw failure;
    }

    @Override
    public void close() {
        if (workers != null && this != Shared.POOL) workers.shutdown();
    }

    /** Lazily built so that merely loading the class starts no threads. */
    private static final class Shared {
        static final CpuThreadPool POOL = build();

        private static CpuThreadPool build() {
            String configured = System.getProperty(THREADS_PROPERTY);
            int threads;
            if (configured == null || configured.isBlank()) {
                threads = Runtime.getRuntime().availableProcessors();
            } else {
                try {
                    threads = Integer.parseInt(configured.trim());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("system property " + THREADS_PROPERTY + "='" + configured
                            + "' is not a whole number; set it to the number of cores kernels may use", e);
                }
                if (threads < 1) {
                    throw new IllegalArgumentException("system property " + THREADS_PROPERTY + "=" + threads
                            + " must be >= 1; set it to the number of cores kernels may use");
                }
            }
            LOG.log(System.Logger.Level.INFO, "CPU kernel pool: {0} thread(s) ({1})", threads,
                    configured == null ? "available processors" : THREADS_PROPERTY);
            return new CpuThreadPool(threads);
        }
    }
}
