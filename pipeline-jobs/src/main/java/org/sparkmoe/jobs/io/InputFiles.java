package org.sparkmoe.jobs.io;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * Expands job inputs (files, directories, globs, on any Hadoop filesystem) into a sorted list of files.
 * Directories are walked recursively; hidden entries ({@code .name}, {@code _name}, e.g. {@code _SUCCESS}) are
 * skipped. An input that matches nothing is a {@link UsageException} naming it.
 */
public final class InputFiles {

    private InputFiles() {}

    /** A file to read: its fully qualified URI and its length in bytes. */
    public record InputFile(String uri, long length) implements java.io.Serializable {}

    public static List<InputFile> expand(Configuration conf, List<String> inputs) {
        if (inputs.isEmpty()) {
            throw new UsageException("no --input given: name at least one file, directory or glob");
        }
        TreeMap<String, InputFile> files = new TreeMap<>();
        for (String input : inputs) {
            int before = files.size();
            try {
                Path pattern = new Path(input);
                FileSystem fs = pattern.getFileSystem(conf);
                FileStatus[] matches = fs.globStatus(pattern);
                if (matches != null) {
                    for (FileStatus match : matches) {
                        addRecursively(fs, match, files);
                    }
                }
            } catch (IOException | IllegalArgumentException e) {
                throw new UsageException("cannot read input " + input + ": " + e.getMessage(), e);
            }
            if (files.size() == before) {
                throw new UsageException("input " + input + " does not exist or matches no files:"
                        + " give an existing file, directory or glob (any Hadoop URI, e.g. hdfs://nn/corpus/*.jsonl)");
            }
        }
        return new ArrayList<>(files.values());
    }

    private static void addRecursively(FileSystem fs, FileStatus status, TreeMap<String, InputFile> files)
            throws IOException {
        if (isHidden(status.getPath())) {
            return;
        }
        if (status.isFile()) {
            files.put(status.getPath().toString(), new InputFile(status.getPath().toString(), status.getLen()));
            return;
        }
        RemoteIterator<LocatedFileStatus> it = fs.listFiles(status.getPath(), true);
        while (it.hasNext()) {
            LocatedFileStatus f = it.next();
            if (!isHidden(f.getPath()) && !hasHiddenParent(f.getPath(), status.getPath())) {
                files.put(f.getPath().toString(), new InputFile(f.getPath().toString(), f.getLen()));
            }
        }
    }

    private static boolean hasHiddenParent(Path file, Path root) {
        for (Path p = file.getParent(); p != null && !p.equals(root); p = p.getParent()) {
            if (isHidden(p)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isHidden(Path p) {
        String name = p.getName();
        return name.startsWith(".") || name.startsWith("_");
    }
}
