package org.sparkmoe.jobs.refresh;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Optional;
import java.util.UUID;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The versions of one refreshed dataset on its filesystem:
 * <pre>
 *   TARGET/versions/v00001.json   published manifests ({@link DatasetVersion}); the highest is current
 *   TARGET/data/v00001/           the documents (or shards) each version added
 *   TARGET/_refresh/              lock, dedup index, pending work of an unfinished refresh
 * </pre>
 * A manifest is written under a hidden name and renamed into place: a rename to a new name is atomic on HDFS and
 * local filesystems, so a reader sees a version completely or not at all, and a refresh that dies before the
 * rename leaves the previous version current.
 */
public final class DatasetVersions {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final FileSystem fs;
    private final Path target;

    public DatasetVersions(FileSystem fs, Path target) {
        this.fs = fs;
        this.target = fs.makeQualified(target);
    }

    public Path target() {
        return target;
    }

    public Path versionsDir() {
        return new Path(target, "versions");
    }

    public Path dataDir(int version) {
        return new Path(target, "data/" + name(version));
    }

    public Path refreshDir() {
        return new Path(target, "_refresh");
    }

    /** The current (highest published) version, if any. */
    public Optional<DatasetVersion> current() throws IOException {
        if (!fs.exists(versionsDir())) {
            return Optional.empty();
        }
        int best = 0;
        for (FileStatus f : fs.listStatus(versionsDir())) {
            String n = f.getPath().getName();
            if (n.matches("v\\d{5}\\.json")) {
                best = Math.max(best, Integer.parseInt(n.substring(1, 6)));
            }
        }
        return best == 0 ? Optional.empty() : Optional.of(read(best));
    }

    public DatasetVersion read(int version) throws IOException {
        try (InputStream in = fs.open(manifest(version))) {
            return JSON.readValue(in, DatasetVersion.class);
        }
    }

    /** Publishes a manifest; fails if that version already exists (another refresh published it). */
    public void publish(DatasetVersion version) throws IOException {
        fs.mkdirs(versionsDir());
        Path tmp = new Path(versionsDir(), "." + name(version.version()) + ".json." + UUID.randomUUID());
        try (OutputStream out = fs.create(tmp, false)) {
            out.write(JSON.writeValueAsBytes(version));
        }
        if (fs.exists(manifest(version.version())) || !fs.rename(tmp, manifest(version.version()))) {
            fs.delete(tmp, false);
            throw new IOException("version " + version.version() + " of " + target + " was published by someone else"
                    + " meanwhile; the refresh lock should have prevented that: check lock.lease_seconds");
        }
    }

    public Path manifest(int version) {
        return new Path(versionsDir(), name(version) + ".json");
    }

    static String name(int version) {
        return String.format("v%05d", version);
    }
}
