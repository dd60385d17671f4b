package org.sparkmoe.jobs.io;

import java.io.IOException;
import org.apache.hadoop.fs.ChecksumFileSystem;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The filesystem under Hadoop's client-side checksums. The local filesystem keeps a {@code .crc} side file per file;
 * a writer that is killed between an {@code hflush} and its close (a stopped application) leaves that side file short,
 * and every later open warns with a stack trace. Files this project checks itself (SHA-256 in manifests) or appends
 * to while a run goes on (metrics) are read and written without the side files. HDFS and object stores are returned
 * as they are.
 */
public final class RawFileSystems {

    private RawFileSystems() {}

    /** {@code fs} without client-side checksum files. */
    public static FileSystem of(FileSystem fs) {
        return fs instanceof ChecksumFileSystem checksummed ? checksummed.getRawFileSystem() : fs;
    }

    /** Creates (overwrites) {@code file} without a checksum side file, removing a stale one a reader would trip on. */
    public static FSDataOutputStream create(FileSystem fs, Path file) throws IOException {
        if (fs instanceof ChecksumFileSystem checksummed) {
            checksummed.getRawFileSystem().delete(checksummed.getChecksumFile(file), false);
        }
        return of(fs).create(file, true);
    }
}
