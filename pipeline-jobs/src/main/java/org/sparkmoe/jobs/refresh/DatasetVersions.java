package org.sparkmoe.jobs.refresh;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalInt;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.AtomicPublish;
import org.sparkmoe.jobs.shards.RefreshedDatasets;

/**
 * The versions of one refreshed dataset on its filesystem:
 * <pre>
 *   TARGET/versions/v00001.json   published versions ({@link DatasetVersion}, token-shard manifests); highest = current
 *   TARGET/versions/v00001/       the token shards each version added (and tokenize's manifest of them alone)
 *   TARGET/data/v00001/kept/      the prepared documents each version added (Parquet)
 *   TARGET/_refresh/              lock, dedup index, pending work of an unfinished refresh
 * </pre>
 * A manifest is written under a hidden name and renamed into place ({@link AtomicPublish#writeNewFile}): a rename
 * to a new name is atomic on HDFS and local filesystems, so a reader sees a version completely or not at all, and a
 * refresh that dies before the rename leaves the previous version current.
 */
public final class DatasetVersions {

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
        return new Path(target, RefreshedDatasets.VERSIONS_DIR);
    }

    /** The prepared documents version {@code version} added: a prepare-output directory (its {@code kept/}). */
    public Path dataDir(int version) {
        return new Path(target, "data/" + name(version));
    }

    /** The token shards version {@code version} added, as the tokenize job published them. */
    public Path shardsDir(int version) {
        return new Path(versionsDir(), name(version));
    }

    public Path refreshDir() {
        return new Path(target, "_refresh");
    }

    /** The current (highest published) version, if any. */
    public Optional<DatasetVersion> current() throws IOException {
        OptionalInt best = RefreshedDatasets.currentVersion(fs, target);
        return best.isEmpty() ? Optional.empty() : Optional.of(read(best.getAsInt()));
    }

    public DatasetVersion read(int version) throws IOException {
        try (InputStream in = fs.open(manifest(version))) {
            return DatasetVersion.fromJson(new String(in.readAllBytes(), StandardCharsets.UTF_8),
                    manifest(version).toString());
        }
    }

    /** Publishes a manifest; fails if that version already exists (another refresh published it). */
    public void publish(DatasetVersion version) throws IOException {
        byte[] json = version.toJson().getBytes(StandardCharsets.UTF_8);
        if (!AtomicPublish.writeNewFile(fs, manifest(version.version()), out -> out.write(json))) {
            throw new IOException("version " + version.version() + " of " + target + " was published by someone else"
                    + " meanwhile; the refresh lock should have prevented that: check lock.lease-seconds");
        }
    }

    public Path manifest(int version) {
        return RefreshedDatasets.versionFile(target, version);
    }

    public static String name(int version) {
        return RefreshedDatasets.versionName(version);
    }
}
