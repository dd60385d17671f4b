package org.sparkmoe.jobs.refresh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.testing.MiniHdfs;

/**
 * The refresh lock on a real HDFS: exclusive, waits, fails clearly, and is taken over after a dead holder's lease;
 * and on a local disk, where two contenders released at the same instant, many times over, never both win.
 */
class LeaseLockTest {

    private static MiniHdfs hdfs;
    private static FileSystem fs;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        fs = hdfs.fileSystem();
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    @Test
    void secondHolderFailsWithAMessageNamingTheFirst() throws Exception {
        Path file = new Path("/locks/a");
        try (LeaseLock first = LeaseLock.acquire(fs, file, Duration.ofSeconds(30), Duration.ZERO)) {
            LeaseLock.LockHeldException e = assertThrows(LeaseLock.LockHeldException.class,
                    () -> LeaseLock.acquire(fs, file, Duration.ofSeconds(30), Duration.ofMillis(300)));
            assertTrue(e.getMessage().contains(first.owner()), e.getMessage());
        }
        assertFalse(fs.exists(file), "released on close");
        LeaseLock.acquire(fs, file, Duration.ofSeconds(30), Duration.ZERO).close();
    }

    @Test
    void waiterGetsTheLockWhenTheHolderReleasesIt() throws Exception {
        Path file = new Path("/locks/b");
        LeaseLock first = LeaseLock.acquire(fs, file, Duration.ofSeconds(30), Duration.ZERO);
        Thread releaser = new Thread(() -> {
            try {
                Thread.sleep(1500);
                first.close();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        releaser.start();
        try (LeaseLock second = LeaseLock.acquire(fs, file, Duration.ofSeconds(30), Duration.ofSeconds(20))) {
            assertTrue(!second.owner().equals(first.owner()));
        }
        releaser.join();
    }

    @Test
    void deadHoldersLeaseExpiresAndIsTakenOver() throws Exception {
        Path file = new Path("/locks/c");
        // A holder that never renews: as if its process was killed right after taking the lock.
        LeaseLock dead = LeaseLock.acquire(fs, file, Duration.ofSeconds(2), Duration.ZERO, false);
        // The lease runs from before the create, which a loaded namenode may take a while to do: compare with the
        // expiry the lock file states, not with when acquire returned.
        Instant expires;
        try (var in = fs.open(file)) {
            expires = Instant.parse(new ObjectMapper().readTree(in).get("expires").asText());
        }
        try (LeaseLock next = LeaseLock.acquire(fs, file, Duration.ofSeconds(30), Duration.ofSeconds(20))) {
            Instant takenOver = Instant.now();
            assertFalse(takenOver.isBefore(expires), "taken over at " + takenOver + ", before the lease expired at "
                    + expires);
            assertThrows(LeaseLock.LockHeldException.class, dead::renew, "the dead holder has lost its lease");
        }
    }

    @Test
    void renewalKeepsALongHolderAlive() throws Exception {
        Path file = new Path("/locks/d");
        try (LeaseLock holder = LeaseLock.acquire(fs, file, Duration.ofSeconds(1), Duration.ZERO)) {
            Thread.sleep(2500);
            assertThrows(LeaseLock.LockHeldException.class,
                    () -> LeaseLock.acquire(fs, file, Duration.ofSeconds(1), Duration.ZERO));
            holder.renew();
        }
    }

    @Test
    void concurrentAcquirersNeverOverlap() throws Exception {
        Path file = new Path("/locks/e");
        Path counter = new Path("/locks/e-inside");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<Integer>> results = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            results.add(pool.submit((Callable<Integer>) () -> {
                try (LeaseLock lock = LeaseLock.acquire(fs, file, Duration.ofSeconds(30), Duration.ofSeconds(60))) {
                    // Inside the critical section nobody else may be: an exclusive create proves it.
                    try (var out = fs.create(counter, false)) {
                        out.write(1);
                    }
                    Thread.sleep(200);
                    fs.delete(counter, false);
                    return 1;
                }
            }));
        }
        int done = 0;
        for (Future<Integer> r : results) {
            done += r.get();
        }
        pool.shutdown();
        assertEquals(4, done);
    }

    @Test
    void twoContendersOnTheLocalDiskNeverBothWin(@TempDir java.nio.file.Path dir) throws Exception {
        FileSystem local = FileSystem.getLocal(new Configuration());
        raceTwoContenders(local, new Path(dir.toUri().toString()), 300);
        try (var files = java.nio.file.Files.list(dir)) {
            assertEquals(List.of(), files.toList(), "no checksum files either");
        }
    }

    @Test
    void twoContendersOnHdfsNeverBothWinAndTheLoserReadsTheWholeLock() throws Exception {
        raceTwoContenders(fs, new Path("/locks/race"), 20);
    }

    /**
     * Two contenders released at the same instant, {@code rounds} times: exactly one holds the lock, the other's
     * message names the winner (it read a whole lock file, never one still being written), and nothing but the lock
     * is ever left in {@code dir}.
     */
    private static void raceTwoContenders(FileSystem target, Path dir, int rounds) throws Exception {
        Path file = new Path(dir, "lock");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < rounds; round++) {
                CyclicBarrier start = new CyclicBarrier(2);
                List<Future<Object>> contenders = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    contenders.add(pool.submit(() -> {
                        start.await();
                        try {
                            return LeaseLock.acquire(target, file, Duration.ofSeconds(30), Duration.ZERO);
                        } catch (LeaseLock.LockHeldException e) {
                            return e.getMessage();
                        }
                    }));
                }
                List<LeaseLock> winners = new ArrayList<>();
                List<String> losers = new ArrayList<>();
                for (Future<Object> c : contenders) {
                    if (c.get() instanceof LeaseLock lock) {
                        winners.add(lock);
                    } else {
                        losers.add((String) c.get());
                    }
                }
                assertEquals(1, winners.size(), "round " + round + ": exactly one of two racing contenders holds the lock");
                assertTrue(losers.getFirst().contains("owner " + winners.getFirst().owner()),
                        "round " + round + ": the loser names the holder: " + losers.getFirst());
                winners.getFirst().close();
                assertFalse(target.exists(file), "round " + round + ": released");
            }
        } finally {
            pool.shutdown();
        }
        assertEquals(0, target.listStatus(dir).length, "no staged, temporary or checksum files are left behind");
    }

    @Test
    void deadHoldersLeaseExpiresOnTheLocalDiskToo(@TempDir java.nio.file.Path dir) throws Exception {
        FileSystem local = FileSystem.getLocal(new Configuration());
        Path file = new Path(dir.toUri().toString(), "lock");
        LeaseLock dead = LeaseLock.acquire(local, file, Duration.ofSeconds(1), Duration.ZERO, false);
        try (LeaseLock next = LeaseLock.acquire(local, file, Duration.ofSeconds(30), Duration.ofSeconds(20))) {
            assertThrows(LeaseLock.LockHeldException.class, dead::renew, "the dead holder has lost its lease");
            next.renew();
        }
    }

    @Test
    void unreadableLockIsTakenOverOnceALeasePastItsLastWriteHasExpired() throws Exception {
        Path file = new Path("/locks/unreadable");
        try (var out = fs.create(file)) {
            out.write("{\"owner\": \"cut sh".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        fs.setTimes(file, Instant.now().minusSeconds(10).toEpochMilli(), -1);
        try (LeaseLock lock = LeaseLock.acquire(fs, file, Duration.ofSeconds(1), Duration.ofSeconds(20))) {
            lock.renew();
        }
        assertFalse(fs.exists(file), "released");
    }
}
