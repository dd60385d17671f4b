package org.sparkmoe.model.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header mapping
 * each tensor name to {@code dtype}, {@code shape} and {@code data_offsets} (plus optional string
 * {@code __metadata__}), then the little-endian data. We write and read {@code F32} and {@code BF16}.
 */
public final class Safetensors {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Stored element type. */
    public enum Dtype {
        F32(4),
        BF16(2);

        final int bytes;

        Dtype(int bytes) {
            this.bytes = bytes;
        }
    }

    /** One tensor's header entry. */
    public record Entry(String name, Dtype dtype, int[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (int s : shape) {
                n *= s;
            }
            return n;
        }
    }

    /** A tensor to write: {@code values[offset, offset + elements)} stored as {@code shape}. */
    public record Source(String name, int[] shape, float[] values, int offset) {
    }

    private Safetensors() {
    }

    /** Writes {@code tensors} in order to {@code file} atomically (temporary file, then rename). */
    public static void write(Path file, List<Source> tensors, Dtype dtype, Map<String, String> metadata)
            throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Source t : tensors) {
            long n = 1;
            for (int s : t.shape()) {
                n *= s;
            }
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", dtype.name());
            var shape = e.putArray("shape");
            for (int s : t.shape()) {
                shape.add(s);
            }
            var offsets = e.putArray("data_offsets");
            offsets.add(offset);
            offsets.add(offset + n * dtype.bytes);
            offset += n * dtype.bytes;
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);
        int padded = (headerBytes.length + 7) / 8 * 8;
        byte[] headerPadded = Arrays.copyOf(headerBytes, padded);
        Arrays.fill(headerPadded, headerBytes.length, padded, (byte) ' ');
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).flip();
            writeFully(ch, len);
            writeFully(ch, ByteBuffer.wrap(headerPadded));
            ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (Source t : tensors) {
                long n = 1;
                for (int s : t.shape()) {
                    n *= s;
                }
                for (long i = 0; i < n; i++) {
                    if (buf.remaining() < 4) {
                        writeFully(ch, buf.flip());
                        buf.clear();
                    }
                    float v = t.values()[(int) (t.offset() + i)];
                    if (dtype == Dtype.F32) {
                        buf.putFloat(v);
                    } else {
                        buf.putShort(toBf16(v));
                    }
                }
            }
            writeFully(ch, buf.flip());
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Round-to-nearest-even fp32 → bf16 (NaN stays NaN). */
    static short toBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** A safetensors file's header. */
    public record Header(Map<String, Entry> entries, Map<String, String> metadata, long dataStart) {
    }

    /** Reads and checks the header of {@code file}. */
    public static Header readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, file);
            long n = len.flip().getLong();
            if (n <= 0 || n > 100_000_000 || 8 + n > ch.size()) {
                throw new IOException(file + " is not a safetensors file: header length " + n + " for a file of "
                        + ch.size() + " bytes");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, file);
            JsonNode root = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8));
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            long dataBytes = ch.size() - 8 - n;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) {
                    f.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                JsonNode e = f.getValue();
                Dtype dtype;
                try {
                    dtype = Dtype.valueOf(e.path("dtype").asText());
                } catch (IllegalArgumentException ex) {
                    throw new IOException(file + ": tensor " + f.getKey() + " has dtype " + e.path("dtype")
                            + "; only F32 and BF16 are read");
                }
                int[] shape = new int[e.path("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = e.path("shape").get(i).asInt();
                }
                Entry entry = new Entry(f.getKey(), dtype, shape, e.path("data_offsets").get(0).asLong(),
                        e.path("data_offsets").get(1).asLong());
                if (entry.end() - entry.begin() != entry.elements() * dtype.bytes || entry.end() > dataBytes) {
                    throw new IOException(file + ": tensor " + f.getKey() + " has data_offsets [" + entry.begin()
                            + ", " + entry.end() + ") that do not match its shape " + Arrays.toString(shape)
                            + " or the file size");
                }
                entries.put(f.getKey(), entry);
            }
            return new Header(entries, metadata, 8 + n);
        }
    }

    /** Reads {@code entry} of {@code file} as fp32 into {@code dst[offset, offset + elements)}. */
    public static void read(Path file, Header header, Entry entry, float[] dst, int offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long n = entry.elements();
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(1 << 20, n * entry.dtype().bytes))
                    .order(ByteOrder.LITTLE_ENDIAN);
            long pos = header.dataStart() + entry.begin();
            long i = 0;
            while (i < n) {
                buf.clear();
                long left = (n - i) * entry.dtype().bytes;
                if (left < buf.capacity()) {
                    buf.limit((int) left);
                }
                while (buf.hasRemaining()) {
                    int r = ch.read(buf, pos);
                    if (r < 0) {
                        throw new IOException(file + ": truncated inside tensor " + entry.name());
                    }
                    pos += r;
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    dst[(int) (offset + i++)] = entry.dtype() == Dtype.F32 ? buf.getFloat()
                            : Float.intBitsToFloat((buf.getShort() & 0xffff) << 16);
                }
            }
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, Path file) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new IOException(file + " is truncated: not a safetensors file");
            }
        }
    }
}
