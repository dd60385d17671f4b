package org.sparkmoe.jobs.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Publishes an output (a directory or a single file) all at once: the writer writes {@link #staging()}, a hidden
 * sibling of the target, and {@link #commit()} moves it into place. A writer that fails before {@code commit()}
 * leaves the previous output untouched ({@link #close()} deletes the staging path). Every write-then-rename in the
 * jobs goes through here.
 *
 * <pre>
 *   try (AtomicPublish publish = AtomicPublish.begin(conf, "hdfs://nn/out/prepared")) {
 *       write(publish.staging());
 *       publish.commit();
 *   }
 *   AtomicPublish.writeFile(fs, new Path(dir, "report.json"), out -> out.write(bytes));
 * </pre>
 *
 * <p>{@link #commit()} replaces an existing target: the old one is renamed aside, the new one renamed in, then the
 * old one deleted. Renames are atomic on HDFS and local filesystems, so readers see either the old or the new
 * output, never a mix; between the two renames the target briefly does not exist. {@link #commitIfAbsent()} never
 * replaces. On object stores without atomic rename (s3a) the rename is a copy and these guarantees do not hold.
 *
 * <p>Files on a local disk that must bypass Hadoop's local filesystem (whose rename may fall back to a copy and
 * which writes {@code .crc} side files) use {@link #writeLocalFile} and {@link #createLocalFile}.
 */
public final class AtomicPublish implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(AtomicPublish.class);

    private final FileSystem fs;
    private final Path target;
    private final Path staging;
    private boolean committed;

    private AtomicPublish(FileSystem fs, Path target, Path staging) {
        this.fs = fs;
        this.target = target;
        this.staging = staging;
    }

    /** Writes a file's content to an output stream. */
    @FunctionalInterface
    public interface Content {
        void write(OutputStream out) throws IOException;
    }

    /** Reserves a fresh staging path beside {@code target} (any Hadoop URI); creates the target's parent. */
    public static AtomicPublish begin(Configuration conf, String target) throws IOException {
        Path targetPath = new Path(target);
        return begin(targetPath.getFileSystem(conf), targetPath);
    }

    /** Reserves a fresh staging path beside {@code target} on {@code fs}; creates the target's parent. */
    public static AtomicPublish begin(FileSystem fs, Path target) throws IOException {
        Path qualified = fs.makeQualified(target);
        Path parent = qualified.getParent();
        if (parent == null) {
            throw new IOException("cannot publish to the filesystem root " + target + ": name a path below it");
        }
        fs.mkdirs(parent);
        return new AtomicPublish(fs, qualified, new Path(parent, hiddenSibling(qualified.getName(), "staging")));
    }

    /** Writes a whole file through a staging file and renames it over {@code target}, replacing a previous one. */
    public static void writeFile(FileSystem fs, Path target, Content content) throws IOException {
        try (AtomicPublish publish = begin(fs, target)) {
            publish.writeStaging(content);
            publish.commit();
        }
    }

    /**
     * Creates {@code target} with {@code content} unless it exists; false (and nothing written) when it does. On
     * HDFS the rename refuses an existing target by itself; on a local filesystem the check and the rename are two
     * steps, so concurrent writers of one name need a lock.
     */
    public static boolean writeNewFile(FileSystem fs, Path target, Content content) throws IOException {
        try (AtomicPublish publish = begin(fs, target)) {
            publish.writeStaging(content);
            return publish.commitIfAbsent();
        }
    }

    /** Where the writer writes; it does not exist yet (Spark writers and {@code fs.create} make it). */
    public Path staging() {
        return staging;
    }

    /** The final location. */
    public Path target() {
        return target;
    }

    /** Moves the staging path into place, replacing a previous output. */
    public void commit() throws IOException {
        requireStaging();
        Path old = null;
        if (fs.exists(target)) {
            old = new Path(target.getParent(), hiddenSibling(target.getName(), "old"));
            rename(target, old);
        }
        rename(staging, target);
        committed = true;
        if (old != null && !fs.delete(old, true)) {
            LOG.warn("published {} but could not delete the previous output moved to {}", target, old);
        }
        LOG.debug("published {}", target);
    }

    /** Moves the staging path into place unless the target exists; false (staging dropped on close) when it does. */
    public boolean commitIfAbsent() throws IOException {
        requireStaging();
        if (fs.exists(target)) {
            return false;
        }
        if (!fs.rename(staging, target)) {
            if (fs.exists(target)) {
                return false;
            }
            throw renameFailed(staging, target);
        }
        committed = true;
        LOG.debug("published {}", target);
        return true;
    }

    /** Deletes the staging path unless a commit succeeded. */
    @Override
    public void close() throws IOException {
        if (!committed && fs.exists(staging)) {
            fs.delete(staging, true);
        }
    }

    /**
     * Writes {@code content} to a local file through a private temporary file renamed over it ({@code rename(2)}
     * replaces atomically), so a reader sees the old or the new content, complete.
     */
    public static void writeLocalFile(java.nio.file.Path target, byte[] content) throws IOException {
        java.nio.file.Path staging = writeLocalStaging(target, content);
        try {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(staging);
        }
    }

    /**
     * Creates a local file with {@code content} unless it exists: a private temporary file is hard-linked to the name
     * ({@code link(2)} fails if the name exists), so exactly one of several concurrent callers wins and the winner's
     * file is complete from its first instant. False when the name already exists.
     */
    public static boolean createLocalFile(java.nio.file.Path target, byte[] content) throws IOException {
        java.nio.file.Path staging = writeLocalStaging(target, content);
        try {
            Files.createLink(target, staging);
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } finally {
            Files.deleteIfExists(staging);
        }
    }

    private static java.nio.file.Path writeLocalStaging(java.nio.file.Path target, byte[] content) throws IOException {
        Files.createDirectories(target.getParent());
        java.nio.file.Path staging = target.resolveSibling(hiddenSibling(target.getFileName().toString(), "staging"));
        Files.write(staging, content);
        return staging;
    }

    private static String hiddenSibling(String name, String role) {
        return "." + name + "." + role + "-" + UUID.randomUUID();
    }

    private void writeStaging(Content content) throws IOException {
        try (OutputStream out = fs.create(staging, false)) {
            content.write(out);
        }
    }

    private void requireStaging() throws IOException {
        if (!fs.exists(staging)) {
            throw new IOException("nothing to publish: staging path " + staging + " was never written");
        }
    }

    private void rename(Path from, Path to) throws IOException {
        if (!fs.rename(from, to)) {
            throw renameFailed(from, to);
        }
    }

    private static IOException renameFailed(Path from, Path to) {
        return new IOException("could not rename " + from + " to " + to + ": check permissions and free space");
    }
}
