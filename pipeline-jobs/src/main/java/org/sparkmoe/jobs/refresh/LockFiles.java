package org.sparkmoe.jobs.refresh;

import java.io.IOException;
import java.util.Optional;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * The few file operations a {@link LeaseLock} needs, each atomic on its filesystem: HDFS through Hadoop
 * ({@link HadoopLockFiles}), a local disk through {@code java.nio} ({@link LocalLockFiles}), because Hadoop's local
 * exclusive create is an exists-check followed by a create.
 */
interface LockFiles {

    /** Creates {@code file} with {@code content} unless it exists; false when it does (someone else was first). */
    boolean createExclusive(Path file, byte[] content) throws IOException;

    /** Replaces the contents of an existing {@code file} (a lease renewal). */
    void overwrite(Path file, byte[] content) throws IOException;

    /** The contents, empty when the file does not exist. */
    Optional<byte[]> read(Path file) throws IOException;

    /** Last modification, milliseconds since the epoch; empty when the file does not exist. */
    Optional<Long> modificationTime(Path file) throws IOException;

    /** Renames {@code from} to a new name; false when {@code from} is gone (another caller renamed it first). */
    boolean rename(Path from, Path to) throws IOException;

    void delete(Path file) throws IOException;

    /** {@code java.nio} for {@code file:} paths, Hadoop for every other filesystem. */
    static LockFiles on(FileSystem fs) {
        return fs instanceof LocalFileSystem || fs instanceof RawLocalFileSystem
                ? new LocalLockFiles(fs) : new HadoopLockFiles(fs);
    }
}
