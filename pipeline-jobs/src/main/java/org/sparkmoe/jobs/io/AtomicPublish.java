package org.sparkmoe.jobs.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * Publishing job output so that readers see all of it or none of it: write everything under a staging directory
 * beside the target, then rename the directory (one atomic namenode operation on HDFS, one rename(2) locally).
 * A killed job leaves only a staging directory, which readers never look at and the next run may delete.
 */
public final class AtomicPublish {

    private AtomicPublish() {}

    /** The staging directory for {@code target}: a hidden sibling, unique per attempt. */
    public static Path stagingFor(Path target, String attempt) {
        return new Path(target.getParent(), "._staging-" + target.getName() + "-" + attempt);
    }

    /** Refuses to overwrite: published output is immutable. */
    public static void requireAbsent(FileSystem fs, Path target) throws IOException {
        if (fs.exists(target)) {
            throw new UsageException(target + " already exists; published outputs are immutable: choose a new"
                    + " version name or delete it first");
        }
    }

    /** Renames {@code staging} to {@code target}; fails if the target appeared meanwhile. */
    public static void publish(FileSystem fs, Path staging, Path target) throws IOException {
        requireAbsent(fs, target);
        fs.mkdirs(target.getParent());
        if (!fs.rename(staging, target)) {
            throw new IOException("cannot rename " + staging + " to " + target + " (did another job publish it?)");
        }
    }

    /** Writes a small UTF-8 file under a temporary name and renames it into place. */
    public static void writeText(FileSystem fs, Path file, String text) throws IOException {
        Path temp = new Path(file.getParent(), "." + file.getName() + ".tmp");
        try (OutputStream out = fs.create(temp, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
        fs.delete(file, false);
        if (!fs.rename(temp, file)) {
            throw new IOException("cannot rename " + temp + " to " + file);
        }
    }
}
