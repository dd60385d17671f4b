package org.sparkmoe.jobs.io;

import java.io.FileNotFoundException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.model.checkpoint.CheckpointFiles;

/**
 * A checkpoint directory on any Hadoop filesystem (HDFS, local, object stores) for moe-model's {@code Checkpoints}:
 * each file is streamed to a hidden staging file beside it and published under its name when the stream is closed
 * ({@link AtomicPublish}), so a reader never sees half a shard under its final name.
 */
public final class HadoopCheckpointFiles implements CheckpointFiles {

    private final FileSystem fs;
    private final Path dir;

    public HadoopCheckpointFiles(FileSystem fs, Path dir) {
        this.fs = fs;
        this.dir = dir;
    }

    @Override
    public OutputStream create(String name) throws IOException {
        AtomicPublish publish = AtomicPublish.begin(fs, new Path(dir, name));
        OutputStream staging;
        try {
            staging = fs.create(publish.staging(), false);
        } catch (IOException | RuntimeException e) {
            publish.close();
            throw e;
        }
        return new FilterOutputStream(staging) {
            private boolean closed;

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                if (!closed) {
                    closed = true;
                    try (publish) {
                        super.close();
                        publish.commit();
                    }
                }
            }
        };
    }

    @Override
    public InputStream open(String name) throws IOException {
        Path file = new Path(dir, name);
        if (!fs.exists(file)) {
            throw new FileNotFoundException(describe(name) + " does not exist");
        }
        return fs.open(file);
    }

    @Override
    public long size(String name) throws IOException {
        return fs.getFileStatus(new Path(dir, name)).getLen();
    }

    @Override
    public void delete(String name) throws IOException {
        fs.delete(new Path(dir, name), false);
    }

    @Override
    public boolean exists(String name) throws IOException {
        return fs.exists(new Path(dir, name));
    }

    @Override
    public String describe(String name) {
        return fs.makeQualified(new Path(dir, name)).toString();
    }
}
