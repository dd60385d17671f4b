package org.sparkmoe.model.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;

/**
 * The files of one checkpoint directory, by name ({@code config.json}, {@code model-00001-of-00003.safetensors},
 * ...), as streams: the seam through which checkpoints are written to and read from a local directory
 * ({@link #local}) or any other filesystem (pipeline-jobs passes Hadoop's). Writing and reading go tensor by tensor
 * through these streams; nothing holds a whole model in one array.
 */
public interface CheckpointFiles {

    /** A new file {@code name}; it appears under that name complete, when the stream is closed. */
    OutputStream create(String name) throws IOException;

    /** Reads file {@code name}; a missing file is a {@link java.io.FileNotFoundException} naming it. */
    InputStream open(String name) throws IOException;

    /** The length of file {@code name} in bytes. */
    long size(String name) throws IOException;

    /** Deletes file {@code name} if it exists. */
    void delete(String name) throws IOException;

    /** Whether file {@code name} exists. */
    boolean exists(String name) throws IOException;

    /** Where file {@code name} is, for messages (a path or URI). */
    String describe(String name);

    /** The files of local directory {@code dir} (created when the first file is written). */
    static CheckpointFiles local(Path dir) {
        return new LocalCheckpointFiles(dir);
    }
}
