package org.sparkmoe.jobs.refresh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * A lock file with a lease on the target filesystem, so that two refreshes of one dataset never both publish.
 *
 * <p>Acquire creates the file exclusively, atomically ({@link LockFiles}: a whole staged copy renamed onto the lock's
 * name on HDFS, a hard link on a local disk). The holder renews the lease every third of its length from a background thread; a
 * holder that died stops renewing, and once its lease has expired another refresh breaks the lock by renaming it
 * aside (a rename of one path succeeds for one caller only) and then creates its own. A contender waits up to
 * {@code wait} for the lock and then fails with a message naming the holder. The lock file is JSON:
 * {@code owner, host, acquired, expires} (ISO instants).
 */
public final class LeaseLock implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(LeaseLock.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final LockFiles files;
    private final Path file;
    private final String owner;
    private final Duration lease;
    private final ScheduledExecutorService renewer;

    private LeaseLock(FileSystem fs, Path file, String owner, Duration lease) {
        this.files = LockFiles.on(fs);
        this.file = file;
        this.owner = owner;
        this.lease = lease;
        this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "refresh-lease-" + file.getName());
            t.setDaemon(true);
            return t;
        });
    }

    /** Takes the lock, waiting up to {@code wait}; renews it in the background until {@link #close()}. */
    public static LeaseLock acquire(FileSystem fs, Path file, Duration lease, Duration wait) throws IOException {
        return acquire(fs, file, lease, wait, true);
    }

    /** As {@link #acquire(FileSystem, Path, Duration, Duration)}; {@code renew=false} plays a holder that died. */
    static LeaseLock acquire(FileSystem fs, Path file, Duration lease, Duration wait, boolean renew)
            throws IOException {
        String owner = ManagementFactory.getRuntimeMXBean().getName() + "/" + UUID.randomUUID();
        LeaseLock lock = new LeaseLock(fs, file, owner, lease);
        Instant deadline = Instant.now().plus(wait);
        while (true) {
            if (lock.tryCreate()) {
                if (renew) {
                    long every = Math.max(1, lease.toMillis() / 3);
                    lock.renewer.scheduleAtFixedRate(lock::renewQuietly, every, every, TimeUnit.MILLISECONDS);
                }
                LOG.info("refresh lock {} taken by {} (lease {} s, {})", file, owner, lease.toSeconds(),
                        lock.files.getClass().getSimpleName());
                return lock;
            }
            JsonNode holder = lock.readHolder();
            if (holder != null && Instant.parse(holder.get("expires").asText()).isBefore(Instant.now())) {
                lock.breakExpired(holder);
                continue;
            }
            if (!Instant.now().isBefore(deadline)) {
                lock.renewer.shutdownNow();
                throw new LockHeldException("another refresh holds the lock " + file
                        + (holder == null ? "" : " (owner " + holder.get("owner").asText() + ", since "
                        + holder.get("acquired").asText() + ", lease until " + holder.get("expires").asText() + ")")
                        + "; waited " + wait.toSeconds() + " s. Let it finish, or raise lock.wait-seconds; a holder"
                        + " that died releases the lock when its lease expires.");
            }
            sleep(Math.min(1000, Math.max(50, lease.toMillis() / 10)));
        }
    }

    public String owner() {
        return owner;
    }

    /** Releases the lock if this process still holds it. */
    @Override
    public void close() throws IOException {
        renewer.shutdownNow();
        JsonNode holder = readHolder();
        if (holder != null && owner.equals(holder.get("owner").asText())) {
            files.delete(file);
            LOG.info("refresh lock {} released by {}", file, owner);
        }
    }

    /** Rewrites the lock with a fresh expiry; fails if someone else now holds it (our lease was broken). */
    synchronized void renew() throws IOException {
        JsonNode holder = readHolder();
        if (holder == null || !owner.equals(holder.get("owner").asText())) {
            throw new LockHeldException("lost the refresh lock " + file + " (now held by "
                    + (holder == null ? "nobody" : holder.get("owner").asText()) + "): the lease of " + lease.toSeconds()
                    + " s expired before it was renewed; raise lock.lease-seconds");
        }
        files.overwrite(file, body(Instant.parse(holder.get("acquired").asText())));
    }

    private void renewQuietly() {
        try {
            renew();
        } catch (IOException | RuntimeException e) {
            LOG.error("could not renew the refresh lock {}: {}", file, e.getMessage());
        }
    }

    private boolean tryCreate() throws IOException {
        return files.createExclusive(file, body(Instant.now()));
    }

    private byte[] body(Instant acquired) throws IOException {
        ObjectNode body = JSON.createObjectNode()
                .put("owner", owner)
                .put("host", ManagementFactory.getRuntimeMXBean().getName())
                .put("acquired", acquired.toString())
                .put("expires", Instant.now().plus(lease).toString());
        return JSON.writeValueAsBytes(body);
    }

    private JsonNode readHolder() throws IOException {
        return readHolder(file);
    }

    private JsonNode readHolder(Path path) throws IOException {
        Optional<byte[]> content = files.read(path);
        if (content.isEmpty()) {
            return null;
        }
        JsonNode holder;
        try {
            holder = JSON.readTree(content.get());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            holder = null;
        }
        if (holder != null && holder.hasNonNull("owner") && holder.hasNonNull("acquired") && holder.hasNonNull("expires")) {
            return holder;
        }
        // Being rewritten by a renewal (HDFS shows a file open for writing as empty), or cut short by a holder that
        // died while writing it: held until a lease past the file's last modification.
        Optional<Long> modifiedMillis = files.modificationTime(path);
        if (modifiedMillis.isEmpty()) {
            return null;
        }
        Instant modified = Instant.ofEpochMilli(modifiedMillis.get());
        // The same owner whatever the path: breakExpired reads the lock again under its aside name and must see the
        // holder it broke, or it would hand an unreadable lock back for ever.
        return JSON.createObjectNode().put("owner", "unknown (the lock file is unreadable)")
                .put("acquired", modified.toString()).put("expires", modified.plus(lease).toString());
    }

    private void breakExpired(JsonNode holder) throws IOException {
        Path aside = new Path(file.getParent(), "." + file.getName() + ".expired-" + UUID.randomUUID());
        if (!files.rename(file, aside)) {
            return;
        }
        JsonNode moved = readHolder(aside);
        if (moved != null && !moved.get("owner").asText().equals(holder.get("owner").asText())) {
            // Between reading the expired holder and the rename, another contender took the lock: give it back
            // (unless a third took the free name meanwhile: an exclusive create never replaces a holder).
            Optional<byte[]> taken = files.read(aside);
            if (taken.isPresent()) {
                files.createExclusive(file, taken.get());
            }
            files.delete(aside);
            return;
        }
        LOG.warn("refresh lock {} held by {} expired at {}: taking it over", file, holder.get("owner").asText(),
                holder.get("expires").asText());
        files.delete(aside);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LockHeldException("interrupted while waiting for the refresh lock");
        }
    }

    /** The lock is held by another refresh (or was lost); the message names the holder and what to do. */
    public static final class LockHeldException extends RuntimeException {
        public LockHeldException(String message) {
            super(message);
        }
    }
}
