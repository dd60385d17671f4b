package org.sparkmoe.model.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The kernel pool runs every part once, rethrows a part's failure, and never deadlocks on nested work. */
class CpuThreadPoolTest {

    @Test
    void runsEveryPartExactlyOnce() {
        try (CpuThreadPool pool = CpuThreadPool.create(3)) {
            AtomicIntegerArray runs = new AtomicIntegerArray(7);
            pool.forEach(7, runs::incrementAndGet);
            for (int part = 0; part < 7; part++) assertEquals(1, runs.get(part), "part " + part);
        }
    }

    @Test
    void rethrowsAFailureAfterTheOtherPartsFinish() {
        try (CpuThreadPool pool = CpuThreadPool.create(2)) {
            AtomicIntegerArray runs = new AtomicIntegerArray(4);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.forEach(4, part -> {
                runs.incrementAndGet(part);
                if (part == 3) throw new IllegalStateException("part 3 failed");
            }));
            assertEquals("part 3 failed", e.getMessage());
            for (int part = 0; part < 4; part++) assertEquals(1, runs.get(part), "part " + part);
        }
    }

    @Test
    void nestedWorkRunsSeriallyInsteadOfDeadlocking() {
        try (CpuThreadPool pool = CpuThreadPool.create(2)) {
            AtomicIntegerArray inner = new AtomicIntegerArray(2 * 5);
            assertTimeoutPreemptively(Duration.ofSeconds(30), () ->
                    pool.forEach(2, outer -> pool.forEach(5, part -> inner.incrementAndGet(outer * 5 + part))));
            for (int i = 0; i < 10; i++) assertEquals(1, inner.get(i), "inner part " + i);
        }
    }

    @Test
    void refusesAnEmptyPool() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuThreadPool.create(0));
        assertEquals("CpuThreadPool: threads must be >= 1, got 0", e.getMessage());
    }
}
