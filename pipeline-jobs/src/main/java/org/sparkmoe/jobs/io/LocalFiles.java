package org.sparkmoe.jobs.io;

import java.io.IOException;
import java.nio.file.Files;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;

/**
 * Files on any Hadoop filesystem for code that writes {@code java.nio} paths (moe-model's single-file safetensors
 * writer knows no Hadoop; checkpoints stream through {@link HadoopCheckpointFiles} instead): a {@code file:} path is
 * written where it is; a file elsewhere is written into a local temporary directory and copied to its place.
 * {@link #close()} removes the temporary directory.
 */
public final class LocalFiles implements AutoCloseable {

    private final Configuration hadoop;
    private java.nio.file.Path temporary;

    public LocalFiles(Configuration hadoop) {
        this.hadoop = hadoop;
    }

    /**
     * Writes a file at {@code target} through {@code writer}, which gets a local path: {@code target} itself when it
     * is local, else a temporary file copied to {@code target} (replacing it) once the writer has finished.
     */
    public void write(Path target, Writer writer) throws IOException {
        FileSystem fs = target.getFileSystem(hadoop);
        Path qualified = fs.makeQualified(target);
        if (isLocal(qualified)) {
            writer.write(java.nio.file.Path.of(qualified.toUri()));
            return;
        }
        java.nio.file.Path local = temporary().resolve("write-" + target.getName());
        writer.write(local);
        fs.copyFromLocalFile(true, true, new Path(local.toUri()), qualified);
    }

    private static boolean isLocal(Path qualified) {
        return "file".equals(qualified.toUri().getScheme());
    }

    /** Writes one local file. */
    @FunctionalInterface
    public interface Writer {
        void write(java.nio.file.Path file) throws IOException;
    }

    private java.nio.file.Path temporary() throws IOException {
        if (temporary == null) {
            temporary = Files.createTempDirectory("sparkmoe-local");
        }
        return temporary;
    }

    @Override
    public void close() {
        if (temporary != null) {
            FileUtil.fullyDelete(temporary.toFile());
            temporary = null;
        }
    }
}
