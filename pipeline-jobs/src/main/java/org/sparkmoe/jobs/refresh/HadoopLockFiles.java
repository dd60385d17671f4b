package org.sparkmoe.jobs.refresh;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Optional;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Lock files on HDFS (or any Hadoop filesystem whose {@code create(overwrite=false)} is one atomic operation). */
final class HadoopLockFiles implements LockFiles {

    private final FileSystem fs;

    HadoopLockFiles(FileSystem fs) {
        this.fs = fs;
    }

    @Override
    public boolean createExclusive(Path file, byte[] content) throws IOException {
        try (OutputStream out = fs.create(file, false)) {
            out.write(content);
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } catch (IOException e) {
            // HDFS reports a concurrent exclusive create as AlreadyBeingCreated/FileAlreadyExists wrapped in a RemoteException.
            if (String.valueOf(e.getMessage()).contains("already") || fs.exists(file)) {
                return false;
            }
            throw e;
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
