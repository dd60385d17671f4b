package org.sparkmoe.jobs.train;

import java.io.DataInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.AtomicPublish;

/**
 * Flat fp32 vectors and small text files on any Hadoop filesystem, written atomically ({@link AtomicPublish}), so a
 * reader never sees half a file.
 *
 * <p>Vector file layout: magic {@code SMV1}, a 64-bit little-endian count, then the values as little-endian fp32.
 */
public final class VectorFiles {

    private static final int MAGIC = 0x31564d53; // "SMV1" read little-endian
    private static final int CHUNK = 1 << 16;

    private VectorFiles() {}

    public static void write(FileSystem fs, Path target, float[] values) throws IOException {
        AtomicPublish.writeFile(fs, target, out -> {
            ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(MAGIC).putLong(values.length);
            out.write(header.array());
            ByteBuffer chunk = ByteBuffer.allocate(CHUNK * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            for (int start = 0; start < values.length; start += CHUNK) {
                int n = Math.min(CHUNK, values.length - start);
                chunk.clear();
                chunk.asFloatBuffer().put(values, start, n);
                out.write(chunk.array(), 0, n * Float.BYTES);
            }
        });
    }

    public static float[] read(FileSystem fs, Path source) throws IOException {
        try (FSDataInputStream in = fs.open(source)) {
            byte[] headerBytes = new byte[12];
            in.readFully(headerBytes);
            ByteBuffer header = ByteBuffer.wrap(headerBytes).order(ByteOrder.LITTLE_ENDIAN);
            if (header.getInt() != MAGIC) {
                throw new IOException(source + " is not a SparkMoE vector file (bad magic): the file is corrupt or of another kind");
            }
            long count = header.getLong();
            long expected = 12 + count * Float.BYTES;
            long actual = fs.getFileStatus(source).getLen();
            if (count < 0 || count > Integer.MAX_VALUE || actual != expected) {
                throw new IOException(source + " is truncated or corrupt: header says " + count + " values ("
                        + expected + " bytes) but the file has " + actual + " bytes");
            }
            float[] values = new float[(int) count];
            byte[] buf = new byte[CHUNK * Float.BYTES];
            for (int start = 0; start < values.length; start += CHUNK) {
                int n = Math.min(CHUNK, values.length - start);
                in.readFully(buf, 0, n * Float.BYTES);
                ByteBuffer.wrap(buf, 0, n * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values, start, n);
            }
            return values;
        }
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
