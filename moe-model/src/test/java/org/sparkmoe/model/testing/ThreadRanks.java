package org.sparkmoe.model.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * The ranks of a collective as threads of this JVM: each gets a {@link Rendezvous} whose all-gather meets the others'
 * at a barrier (as Spark's {@code BarrierTaskContext.allGather} does for tasks), on the loopback address, with a
 * cancellation flag the test can raise.
 */
public final class ThreadRanks {

    /** One rank's work. */
    @FunctionalInterface
    public interface Body<T> {
        T run(int rank, Rendezvous rendezvous) throws Exception;
    }

    private final int size;
    private final String[] slots;
    private final CyclicBarrier barrier;
    private final AtomicBoolean[] cancelled;

    public ThreadRanks(int size) {
        this.size = size;
        this.slots = new String[size];
        this.barrier = new CyclicBarrier(size);
        this.cancelled = new AtomicBoolean[size];
        for (int r = 0; r < size; r++) {
            cancelled[r] = new AtomicBoolean();
        }
    }

    /** Raises rank {@code rank}'s cancellation flag (its task was killed). */
    public void cancel(int rank) {
        cancelled[rank].set(true);
    }

    /** Runs {@code body} on every rank at once; the results by rank, or the first failure (the others suppressed). */
    public <T> List<T> run(Body<T> body) {
        List<Object> outcomes = outcomes(body);
        RuntimeException failure = null;
        for (Object o : outcomes) {
            if (o instanceof Throwable t) {
                if (failure == null) {
                    failure = new IllegalStateException("a rank failed: " + t, t);
                } else {
                    failure.addSuppressed(t);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
        @SuppressWarnings("unchecked")
        List<T> results = (List<T>) (List<?>) outcomes;
        return results;
    }

    /** Runs {@code body} on every rank at once; each rank's result or the {@link Throwable} it ended with. */
    public List<Object> outcomes(Body<?> body) {
        ExecutorService threads = Executors.newFixedThreadPool(size);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                int rank = r;
                futures.add(threads.submit(() -> body.run(rank, rendezvous(rank))));
            }
            List<Object> out = new ArrayList<>();
            for (Future<?> f : futures) {
                try {
                    out.add(f.get(120, TimeUnit.SECONDS));
                } catch (java.util.concurrent.ExecutionException e) {
                    out.add(e.getCause());
                } catch (TimeoutException | InterruptedException e) {
                    throw new IllegalStateException("a rank did not finish within 120 s", e);
                }
            }
            return out;
        } finally {
            threads.shutdownNow();
        }
    }

    private Rendezvous rendezvous(int rank) {
        return new Rendezvous() {
            @Override
            public String[] allGather(String message) {
                try {
                    slots[rank] = message;
                    barrier.await(60, TimeUnit.SECONDS);
                    String[] all = slots.clone();
                    barrier.await(60, TimeUnit.SECONDS);
                    return all;
                } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                    throw new IllegalStateException("rank " + rank + ": the other ranks did not all-gather", e);
                }
            }

            @Override
            public String host() {
                return "127.0.0.1";
            }

            @Override
            public boolean cancelled() {
                return cancelled[rank].get();
            }
        };
    }
}
