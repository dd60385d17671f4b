package org.sparkmoe.jobs.model;

import java.io.IOException;
import java.nio.file.Files;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.model.checkpoint.Checkpoints;

/**
 * A model checkpoint directory ({@code config.json}, {@code model.safetensors}) given as any Hadoop URI, as a local
 * directory the engine's loader reads: the directory itself on the local filesystem, else a temporary copy of those
 * two files (the optimiser state is not copied), deleted on {@link #close()}.
 */
final class LocalCheckpoint implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(LocalCheckpoint.class);

    private final java.nio.file.Path directory;
    private final boolean temporary;

    private LocalCheckpoint(java.nio.file.Path directory, boolean temporary) {
        this.directory = directory;
        this.temporary = temporary;
    }

    static LocalCheckpoint open(Configuration conf, String uri) throws IOException {
        Path dir = new Path(uri);
        FileSystem fs = dir.getFileSystem(conf);
        for (String file : new String[] {Checkpoints.CONFIG, Checkpoints.MODEL}) {
            if (!fs.isFile(new Path(dir, file))) {
                throw new UsageException("checkpoint " + uri + " has no " + file + ": give a directory written by"
                        + " the trainer (its final/ or a checkpoint) or a DeepSeekMoE config.json + model.safetensors");
            }
        }
        FileSystem raw = fs instanceof LocalFileSystem local ? local.getRawFileSystem() : fs;
        if (raw instanceof RawLocalFileSystem localFs) {
            return new LocalCheckpoint(localFs.pathToFile(fs.makeQualified(dir)).toPath(), false);
        }
        java.nio.file.Path copy = Files.createTempDirectory("sparkmoe-checkpoint");
        LOG.info("copying checkpoint {} to {} to load it", uri, copy);
        for (String file : new String[] {Checkpoints.CONFIG, Checkpoints.MODEL}) {
            fs.copyToLocalFile(false, new Path(dir, file), new Path(copy.resolve(file).toUri()), true);
        }
        return new LocalCheckpoint(copy, true);
    }

    /** The local directory to load from. */
    java.nio.file.Path directory() {
        return directory;
    }

    @Override
    public void close() {
        if (temporary) {
            FileUtil.fullyDelete(directory.toFile());
        }
    }
}
