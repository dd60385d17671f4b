package org.sparkmoe.jobs.refresh;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.FileHashes;
import org.sparkmoe.jobs.io.InputFiles;

/**
 * Compares the input files on their filesystem with the fingerprints recorded in the current dataset version.
 * Only files whose size or modification time differ are hashed, so an unchanged corpus costs one listing.
 */
public final class ChangeDetector {

    private final Configuration conf;

    public ChangeDetector(Configuration conf) {
        this.conf = conf;
    }

    public ChangeSet detect(List<String> inputs, List<InputFingerprint> known) throws IOException {
        Map<String, InputFingerprint> byUri = new LinkedHashMap<>();
        known.forEach(f -> byUri.put(f.uri(), f));
        Map<String, InputFingerprint> all = new TreeMap<>(byUri);
        List<InputFingerprint> changed = new ArrayList<>();
        for (InputFiles.InputFile file : InputFiles.expand(conf, inputs)) {
            Path path = new Path(file.uri());
            FileSystem fs = path.getFileSystem(conf);
            FileStatus status = fs.getFileStatus(path);
            InputFingerprint before = byUri.get(file.uri());
            if (before != null && before.sameStat(status.getLen(), status.getModificationTime())) {
                continue;
            }
            InputFingerprint now = new InputFingerprint(file.uri(), status.getLen(), status.getModificationTime(),
                    FileHashes.sha256(fs, path));
            all.put(now.uri(), now);
            if (before == null || !before.sha256().equals(now.sha256())) {
                changed.add(now);
            }
        }
        return new ChangeSet(changed, new ArrayList<>(all.values()));
    }
}
