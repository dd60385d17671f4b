package org.sparkmoe.jobs.refresh;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Optional;
import java.util.UUID;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Lock files on HDFS (or any Hadoop filesystem whose rename onto an existing file fails, atomically).
 *
 * <p>An exclusive create writes the content whole under a private name and renames it onto the lock's: the rename
 * succeeds for one contender only, and no contender ever finds the lock open for writing. A create(overwrite=false) of
 * the lock itself would leave it empty to readers until its close, and, when the close fails on a loaded cluster
 * (the last block not yet replicated), unreadable for a whole lease while its creator believes it lost the race.
 */
final class HadoopLockFiles implements LockFiles {

    /** Attempts at writing the staged copy: a failed close is usually a datanode that was slow to acknowledge. */
    private static final int WRITE_ATTEMPTS = 3;

    private final FileSystem fs;

    HadoopLockFiles(FileSystem fs) {
        this.fs = fs;
    }

    @Override
    public boolean createExclusive(Path file, byte[] content) throws IOException {
        Path staged = new Path(file.getParent(), "." + file.getName() + ".new-" + UUID.randomUUID());
        for (int attempt = 1; ; attempt++) {
            try (OutputStream out = fs.create(staged, true)) {
                out.write(content);
                break;
            } catch (IOException e) {
                fs.delete(staged, false);
                if (attempt == WRITE_ATTEMPTS) {
                    throw new IOException("could not write the lock file " + staged + " (" + attempt + " attempts): "
                            + e.getMessage(), e);
                }
            }
        }
        try {
            return fs.rename(staged, file);
        } finally {
            fs.delete(staged, false);
        }
    }

    @Override
    public void overwrite(Path file, byte[] content) throws IOException {
        try (OutputStream out = fs.create(file, true)) {
            out.write(content);
        }
    }

    @Override
    public Optional<byte[]> read(Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return Optional.of(in.readAllBytes());
        } catch (FileNotFoundException e) {
            return Optional.empty();
        }
    }

    @Override
    public Optional<Long> modificationTime(Path file) throws IOException {
        try {
            return Optional.of(fs.getFileStatus(file).getModificationTime());
        } catch (FileNotFoundException e) {
            return Optional.empty();
        }
    }

    @Override
    public boolean rename(Path from, Path to) throws IOException {
        return fs.rename(from, to);
    }

    @Override
    public void delete(Path file) throws IOException {
        fs.delete(file, false);
    }
}
