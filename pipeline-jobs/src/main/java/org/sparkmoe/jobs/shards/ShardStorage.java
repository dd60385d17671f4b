package org.sparkmoe.jobs.shards;

import java.io.Closeable;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.sparkmoe.jobs.io.RawFileSystems;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Positional reads of a shard file's bytes. Two implementations: local files are memory-mapped
 * ({@link MappedShardStorage}: reads are memory copies, no system call), every other Hadoop filesystem uses
 * positioned reads ({@link HadoopShardStorage}). Arrow data is little-endian.
 */
interface ShardStorage extends Closeable {

    Logger LOG = LogManager.getLogger(ShardStorage.class);

    long size();

    void readBytes(long position, byte[] dst, int offset, int length) throws IOException;

    /** Reads {@code count} little-endian int32 values at {@code position} into {@code dst[offset..]}. */
    void readInts(long position, int[] dst, int offset, int count) throws IOException;

    /** Copies {@code count} int32 values at {@code position} into {@code dst} at byte offset {@code dstOffset}. */
    void readInts(long position, MemorySegment dst, long dstOffset, int count) throws IOException;

    /** The fast path when the file is local, positioned reads otherwise; logs which one was chosen. */
    static ShardStorage open(FileSystem fs, Path path) throws IOException {
        FileSystem raw = RawFileSystems.of(fs);
        if (raw instanceof RawLocalFileSystem localFs) {
            java.nio.file.Path file = localFs.pathToFile(path).toPath();
            LOG.debug("shard {}: local file, memory-mapped", path);
            return MappedShardStorage.open(file);
        }
        LOG.debug("shard {}: {} positioned reads", path, fs.getScheme());
        return HadoopShardStorage.open(fs, path);
    }
}
