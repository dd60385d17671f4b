package org.sparkmoe.jobs.refresh;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
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
                    sha256(fs, path));
            all.put(now.uri(), now);
            if (before == null || !before.sha256().equals(now.sha256())) {
                changed.add(now);
            }
        }
        return new ChangeSet(changed, new ArrayList<>(all.values()));
    }

    static String sha256(FileSystem fs, Path path) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = fs.open(path)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
