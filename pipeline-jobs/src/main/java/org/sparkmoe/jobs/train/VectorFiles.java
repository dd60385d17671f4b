package org.sparkmoe.jobs.train;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.io.DataInputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.AtomicPublish;
import org.sparkmoe.model.checkpoint.VectorRanges;

/**
 * Flat fp32 vectors and small text files on any Hadoop filesystem, written atomically ({@link AtomicPublish}), so a
 * reader never sees half a file.
 *
 * <p>Vector file layout: magic {@code SMV1}, a 64-bit little-endian count, then the values as little-endian fp32.
 * Vectors are read and written range by range, so a file may hold more values than one Java array.
 */
public final class VectorFiles {

    private static final int MAGIC = 0x31564d53; // "SMV1" read little-endian
    /** Values per transfer: large enough that a device copy's fixed cost vanishes, small beside any heap. */
    private static final int CHUNK = 1 << 22;
    private static final ValueLayout.OfFloat FILE_FLOAT = JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private VectorFiles() {}

    public static void write(FileSystem fs, Path target, float[] values) throws IOException {
        write(fs, target, values.length, VectorRanges.of(values));
    }

    /**
     * Writes a vector of {@code count} values read range by range from {@code values} (a device's tensor, for
     * example): no array of the whole vector, so it may exceed 2^31 values.
     */
    public static void write(FileSystem fs, Path target, long count, VectorRanges.Source values) throws IOException {
        AtomicPublish.writeFile(fs, target, out -> {
            ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(MAGIC).putLong(count);
            out.write(header.array());
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment chunk = arena.allocate(JAVA_FLOAT, CHUNK);
                byte[] bytes = new byte[CHUNK * Float.BYTES];
                MemorySegment file = MemorySegment.ofArray(bytes);
                for (long first = 0; first < count; first += CHUNK) {
                    int n = (int) Math.min(CHUNK, count - first);
                    values.read(first, n, chunk);
                    MemorySegment.copy(chunk, JAVA_FLOAT, 0, file, FILE_FLOAT, 0, n);
                    out.write(bytes, 0, n * Float.BYTES);
                }
            }
        });
    }

    public static float[] read(FileSystem fs, Path source) throws IOException {
        long count = count(fs, source);
        if (count > Integer.MAX_VALUE - 8) {
            throw new IOException(source + " holds " + count + " values, more than one Java array takes: read it by"
                    + " range");
        }
        float[] values = new float[(int) count];
        read(fs, source, count, VectorRanges.into(values));
        return values;
    }

    /** The number of values in a vector file, checked against the file's length. */
    public static long count(FileSystem fs, Path source) throws IOException {
        try (FSDataInputStream in = fs.open(source)) {
            return header(fs, source, in);
        }
    }

    /** Reads a vector file of {@code expected} values range by range into {@code into}. */
    public static void read(FileSystem fs, Path source, long expected, VectorRanges.Sink into) throws IOException {
        try (FSDataInputStream in = fs.open(source); Arena arena = Arena.ofConfined()) {
            long count = header(fs, source, in);
            if (count != expected) {
                throw new IOException(source + " holds " + count + " values where " + expected + " are expected: it"
                        + " belongs to another model config or worker count");
            }
            MemorySegment chunk = arena.allocate(JAVA_FLOAT, CHUNK);
            byte[] bytes = new byte[CHUNK * Float.BYTES];
            MemorySegment file = MemorySegment.ofArray(bytes);
            for (long first = 0; first < count; first += CHUNK) {
                int n = (int) Math.min(CHUNK, count - first);
                in.readFully(bytes, 0, n * Float.BYTES);
                MemorySegment.copy(file, FILE_FLOAT, 0, chunk, JAVA_FLOAT, 0, n);
                into.write(first, n, chunk);
            }
        }
    }

    /** Reads and checks the header; returns the value count. */
    private static long header(FileSystem fs, Path source, FSDataInputStream in) throws IOException {
        byte[] headerBytes = new byte[12];
        in.readFully(headerBytes);
        ByteBuffer header = ByteBuffer.wrap(headerBytes).order(ByteOrder.LITTLE_ENDIAN);
        if (header.getInt() != MAGIC) {
            throw new IOException(source + " is not a SparkMoE vector file (bad magic): the file is corrupt or of another kind");
        }
        long count = header.getLong();
        long expected = 12 + count * Float.BYTES;
        long actual = fs.getFileStatus(source).getLen();
        if (count < 0 || actual != expected) {
            throw new IOException(source + " is truncated or corrupt: header says " + count + " values ("
                    + expected + " bytes) but the file has " + actual + " bytes");
        }
        return count;
    }

    public static void writeText(FileSystem fs, Path target, String text) throws IOException {
        AtomicPublish.writeFile(fs, target, out -> out.write(text.getBytes(StandardCharsets.UTF_8)));
    }

    public static String readText(FileSystem fs, Path source) throws IOException {
        try (DataInputStream in = fs.open(source)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
