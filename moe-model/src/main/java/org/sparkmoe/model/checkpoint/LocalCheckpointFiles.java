package org.sparkmoe.model.checkpoint;

import java.io.BufferedOutputStream;
import java.io.FileNotFoundException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** {@link CheckpointFiles} in a local directory; each file is written to {@code name.tmp} and renamed when closed. */
final class LocalCheckpointFiles implements CheckpointFiles {

    private final Path dir;

    LocalCheckpointFiles(Path dir) {
        this.dir = dir;
    }

    @Override
    public OutputStream create(String name) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(name);
        Path tmp = dir.resolve(name + ".tmp");
        return new FilterOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            private boolean closed;

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                if (!closed) {
                    closed = true;
                    super.close();
                    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                }
            }
        };
    }

    @Override
    public InputStream open(String name) throws IOException {
        try {
            return Files.newInputStream(dir.resolve(name));
        } catch (NoSuchFileException e) {
            throw new FileNotFoundException(describe(name) + " does not exist");
        }
    }

    @Override
    public long size(String name) throws IOException {
        return Files.size(dir.resolve(name));
    }

    @Override
    public void delete(String name) throws IOException {
        Files.deleteIfExists(dir.resolve(name));
    }

    @Override
    public boolean exists(String name) {
        return Files.exists(dir.resolve(name));
    }

    @Override
    public String describe(String name) {
        return dir.resolve(name).toString();
    }
}
