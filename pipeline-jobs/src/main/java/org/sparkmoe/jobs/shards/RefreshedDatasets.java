package org.sparkmoe.jobs.shards;

import java.io.IOException;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * How a reader finds the versions of a dataset that {@code sparkmoe refresh} maintains (docs/refresh.md): each is a
 * manifest {@code <root>/versions/vNNNNN.json}, and the highest number is the current version. So a refreshed
 * dataset's root can be given wherever a manifest is expected ({@link Manifest#manifestFile}), and means its
 * current version at the moment it is opened.
 */
public final class RefreshedDatasets {

    public static final String VERSIONS_DIR = "versions";
    private static final Pattern VERSION_FILE = Pattern.compile("v(\\d{5})\\.json");

    private RefreshedDatasets() {}

    /** {@code v00042} for 42. */
    public static String versionName(int version) {
        return String.format("v%05d", version);
    }

    /** The manifest of {@code version} under a refreshed dataset's root. */
    public static Path versionFile(Path root, int version) {
        return new Path(new Path(root, VERSIONS_DIR), versionName(version) + ".json");
    }

    /** The highest published version under {@code root}, empty when there is none (or no versions/ at all). */
    public static OptionalInt currentVersion(FileSystem fs, Path root) throws IOException {
        Path dir = new Path(root, VERSIONS_DIR);
        if (!fs.isDirectory(dir)) {
            return OptionalInt.empty();
        }
        int best = 0;
        for (FileStatus f : fs.listStatus(dir)) {
            Matcher m = VERSION_FILE.matcher(f.getPath().getName());
            if (f.isFile() && m.matches()) {
                best = Math.max(best, Integer.parseInt(m.group(1)));
            }
        }
        return best == 0 ? OptionalInt.empty() : OptionalInt.of(best);
    }
}
