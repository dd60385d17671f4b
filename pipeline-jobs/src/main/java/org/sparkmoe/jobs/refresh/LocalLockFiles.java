package org.sparkmoe.jobs.refresh;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.UUID;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Lock files on a local disk through {@code java.nio}, bypassing Hadoop's local filesystem (whose exclusive create
 * checks, then creates, and whose rename falls back to a copy). The contents go to a private temporary file first:
 * {@link #createExclusive} hard-links it to the lock's name ({@code link(2)} fails if the name exists, so exactly
 * one contender wins and the winner's file is complete from its first instant); {@link #overwrite} renames it over
 * the lock ({@code rename(2)} replaces atomically). No {@code .crc} side files are written.
 */
final class LocalLockFiles implements LockFiles {

    private final FileSystem fs;

    LocalLockFiles(FileSystem fs) {
        this.fs = fs;
    }

    @Override
    public boolean createExclusive(Path file, byte[] content) throws IOException {
        java.nio.file.Path lock = local(file);
        java.nio.file.Path tmp = writeTemporary(lock, content);
        try {
            Files.createLink(lock, tmp);
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public void overwrite(Path file, byte[] content) throws IOException {
        java.nio.file.Path lock = local(file);
        java.nio.file.Path tmp = writeTemporary(lock, content);
        try {
            Files.move(tmp, lock, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
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

    private static java.nio.file.Path writeTemporary(java.nio.file.Path lock, byte[] content) throws IOException {
        Files.createDirectories(lock.getParent());
        java.nio.file.Path tmp = lock.resolveSibling("." + lock.getFileName() + ".new-" + UUID.randomUUID());
        Files.write(tmp, content);
        return tmp;
    }
}
