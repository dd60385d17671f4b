package org.sparkmoe.jobs.shards;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A local shard mapped read-only into memory as one {@link MemorySegment} (no 2 GiB limit). Token reads copy straight
 * from the page cache into the caller's array or off-heap segment: no Arrow buffers, no intermediate copy.
 * The mapping lives in a shared arena released by {@link #close()}.
 */
final class MappedShardStorage implements ShardStorage {

    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Arena arena;
    private final MemorySegment file;

    private MappedShardStorage(Arena arena, MemorySegment file) {
        this.arena = arena;
        this.file = file;
    }

    static MappedShardStorage open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            return new MappedShardStorage(arena, channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena));
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    @Override
    public long size() {
        return file.byteSize();
    }

    @Override
    public void readBytes(long position, byte[] dst, int offset, int length) {
        MemorySegment.copy(file, ValueLayout.JAVA_BYTE, position, dst, offset, length);
    }

    @Override
    public void readInts(long position, int[] dst, int offset, int count) {
        MemorySegment.copy(file, INT_LE, position, dst, offset, count);
    }

    @Override
    public void readInts(long position, MemorySegment dst, long dstOffset, int count) {
        if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            MemorySegment.copy(file, position, dst, dstOffset, 4L * count);
        } else {
            MemorySegment.copy(file, INT_LE, position, dst, ValueLayout.JAVA_INT_UNALIGNED, dstOffset, count);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
