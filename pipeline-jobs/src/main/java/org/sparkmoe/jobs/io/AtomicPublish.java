package org.sparkmoe.jobs.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * Publishes a job's output directory all at once: the job writes everything under {@link #staging()}, a hidden
 * sibling of the target, and {@link #commit()} moves it into place. A job that fails before {@code commit()}
 * leaves the previous output untouched ({@link #close()} deletes the staging directory).
 *
 * <pre>
 *   try (AtomicPublish publish = AtomicPublish.begin(conf, "hdfs://nn/out/prepared")) {
 *       write(publish.staging());
 *       publish.commit();
 *   }
 * </pre>
 *
 * <p>A rerun replaces an existing target: the old directory is renamed aside, the new one renamed in, then the old
 * one deleted. Directory renames are atomic on HDFS and local filesystems, so readers see either the old or the
 * new output, never a mix; between the two renames the target briefly does not exist. On object stores without
 * atomic rename (s3a) the rename is a copy and this guarantee does not hold.
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

    /** Reserves a fresh staging directory beside {@code target} (any Hadoop URI); creates the target's parent. */
    public static AtomicPublish begin(Configuration conf, String target) throws IOException {
        Path targetPath = new Path(target);
        FileSystem fs = targetPath.getFileSystem(conf);
        Path qualified = fs.makeQualified(targetPath);
        Path parent = qualified.getParent();
        if (parent == null) {
            throw new IOException("cannot publish to the filesystem root " + target + ": name a directory below it");
        }
        fs.mkdirs(parent);
        Path staging = new Path(parent, "." + qualified.getName() + ".staging-" + UUID.randomUUID());
        return new AtomicPublish(fs, qualified, staging);
    }

    /** Where the job writes; it does not exist yet (Spark writers create it). */
    public Path staging() {
        return staging;
    }

    /** The final location. */
    public Path target() {
        return target;
    }

    /** Moves the staging directory into place, replacing a previous output. */
    public void commit() throws IOException {
        if (!fs.exists(staging)) {
            throw new IOException("nothing to publish: staging directory " + staging + " was never written");
        }
        Path old = null;
        if (fs.exists(target)) {
            old = new Path(target.getParent(), "." + target.getName() + ".old-" + UUID.randomUUID());
            rename(target, old);
        }
        rename(staging, target);
        committed = true;
        if (old != null && !fs.delete(old, true)) {
            LOG.warn("published {} but could not delete the previous output moved to {}", target, old);
        }
        LOG.info("published {}", target);
    }

    private void rename(Path from, Path to) throws IOException {
        if (!fs.rename(from, to)) {
            throw new IOException("could not rename " + from + " to " + to + ": check permissions and free space");
        }
    }

    /** Deletes the staging directory unless {@link #commit()} succeeded. */
    @Override
    public void close() throws IOException {
        if (!committed && fs.exists(staging)) {
            fs.delete(staging, true);
        }
    }

    // Static helpers for outputs published once and never replaced (token dataset versions).

    /** The staging directory for {@code target}: a hidden sibling, unique per attempt. */
    public static Path stagingFor(Path target, String attempt) {
        return new Path(target.getParent(), "._staging-" + target.getName() + "-" + attempt);
    }

    /** Refuses to overwrite: published output is immutable. */
    public static void requireAbsent(FileSystem fs, Path target) throws IOException {
        if (fs.exists(target)) {
            throw new UsageException(target + " already exists; published outputs are immutable: choose a new"
                    + " version name or delete it first");
        }
    }

    /** Renames {@code staging} to {@code target}; fails if the target appeared meanwhile. */
    public static void publish(FileSystem fs, Path staging, Path target) throws IOException {
        requireAbsent(fs, target);
        fs.mkdirs(target.getParent());
        if (!fs.rename(staging, target)) {
            throw new IOException("cannot rename " + staging + " to " + target + " (did another job publish it?)");
        }
    }

    /** Writes a small UTF-8 file under a temporary name and renames it into place. */
    public static void writeText(FileSystem fs, Path file, String text) throws IOException {
        Path temp = new Path(file.getParent(), "." + file.getName() + ".tmp");
        try (OutputStream out = fs.create(temp, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
        fs.delete(file, false);
        if (!fs.rename(temp, file)) {
            throw new IOException("cannot rename " + temp + " to " + file);
        }
    }
}
