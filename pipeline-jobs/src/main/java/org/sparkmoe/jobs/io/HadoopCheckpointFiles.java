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
 * each file is streamed to {@code name.tmp} and renamed into place when closed, so a reader never sees half a shard
 * under its final name.
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
        Path file = new Path(dir, name);
        Path tmp = new Path(dir, name + ".tmp");
        return new FilterOutputStream(fs.create(tmp, true)) {
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
                    if (fs.exists(file)) {
                        fs.delete(file, false);
                    }
                    if (!fs.rename(tmp, file)) {
                        throw new IOException("could not rename " + tmp + " to " + file);
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
