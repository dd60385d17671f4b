package org.sparkmoe.jobs.refresh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.AtomicPublish;

/**
 * Lock files on a local disk through {@code java.nio}, bypassing Hadoop's local filesystem (whose exclusive create
 * checks, then creates, and whose rename falls back to a copy): {@link #createExclusive} and {@link #overwrite} are
 * {@link AtomicPublish}'s local-file writes (a hard link that fails if the name exists, so exactly one contender
 * wins; a rename that replaces atomically). No {@code .crc} side files are written.
 */
final class LocalLockFiles implements LockFiles {

    private final FileSystem fs;

    LocalLockFiles(FileSystem fs) {
        this.fs = fs;
    }

    @Override
    public boolean createExclusive(Path file, byte[] content) throws IOException {
        return AtomicPublish.createLocalFile(local(file), content);
    }

    @Override
    public void overwrite(Path file, byte[] content) throws IOException {
        AtomicPublish.writeLocalFile(local(file), content);
    }

    @Override
    public Optional<byte[]> read(Path file) throws IOException {
        try {
            return Optional.of(Files.readAllBytes(local(file)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public Optional<Long> modificationTime(Path file) throws IOException {
        try {
            return Optional.of(Files.getLastModifiedTime(local(file)).toMillis());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public boolean rename(Path from, Path to) throws IOException {
        try {
            Files.move(local(from), local(to), StandardCopyOption.ATOMIC_MOVE);
            return true;
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    @Override
    public void delete(Path file) throws IOException {
        Files.deleteIfExists(local(file));
    }

    private java.nio.file.Path local(Path file) {
        return java.nio.file.Path.of(fs.makeQualified(file).toUri());
    }
}
