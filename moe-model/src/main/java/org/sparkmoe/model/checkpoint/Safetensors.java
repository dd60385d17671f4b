package org.sparkmoe.model.checkpoint;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header mapping
 * each tensor name to {@code dtype}, {@code shape} and {@code data_offsets} (plus optional string
 * {@code __metadata__}), then the little-endian data. We write and read {@code F32} and {@code BF16}, as streams,
 * one tensor at a time: a tensor's values pass through a host {@link MemorySegment} of its size, never an array of
 * the whole file.
 */
public final class Safetensors {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ValueLayout.OfFloat F32_LE = JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort BF16_LE = JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Bytes converted per write or read call. */
    private static final int CHUNK = 1 << 20;

    /** Stored element type. */
    public enum Dtype {
        F32(4),
        BF16(2);

        final int bytes;

        Dtype(int bytes) {
            this.bytes = bytes;
        }

        /** Bytes per element. */
        public int bytes() {
            return bytes;
        }
    }

    /** One tensor's header entry: offsets relative to the start of the data. */
    public record Entry(String name, Dtype dtype, int[] shape, long begin, long end) {
        public long elements() {
            return elements(shape);
        }

        static long elements(int[] shape) {
            long n = 1;
            for (int s : shape) {
                n *= s;
            }
            return n;
        }
    }

    /** A tensor to write: its name, shape, and where its fp32 values come from. */
    public record Tensor(String name, int[] shape, TensorData data) {
        public long elements() {
            return Entry.elements(shape);
        }
    }

    /** Fills a tensor's fp32 values (native order) into the first {@code elements} floats of {@code dst}. */
    @FunctionalInterface
    public interface TensorData {
        void fill(MemorySegment dst) throws IOException;
    }

    /** Receives each tensor read, its fp32 values (native order) in the first {@code entry.elements()} floats. */
    @FunctionalInterface
    public interface TensorSink {
        void accept(Entry entry, MemorySegment values) throws IOException;
    }

    /** A tensor given as {@code values[offset, offset + elements)} of a Java array, stored as {@code shape}. */
    public record Source(String name, int[] shape, float[] values, int offset) {
        Tensor tensor() {
            return new Tensor(name, shape, dst -> MemorySegment.copy(values, offset, dst, JAVA_FLOAT, 0,
                    Math.toIntExact(Entry.elements(shape))));
        }
    }

    /** A safetensors file's header. */
    public record Header(Map<String, Entry> entries, Map<String, String> metadata, long dataStart) {
        /** Bytes of tensor data the header describes. */
        public long dataBytes() {
            return entries.values().stream().mapToLong(Entry::end).max().orElse(0);
        }
    }

    private Safetensors() {
    }

    /** The bytes {@code tensors} take in {@code dtype} (no header). */
    public static long dataBytes(List<Tensor> tensors, Dtype dtype) {
        return tensors.stream().mapToLong(t -> t.elements() * dtype.bytes).sum();
    }

    /** Writes {@code tensors} in order to {@code out} (not closed), each filled by its {@link TensorData}. */
    public static void write(OutputStream out, List<Tensor> tensors, Dtype dtype, Map<String, String> metadata)
            throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        long largest = 0;
        for (Tensor t : tensors) {
            long bytes = t.elements() * dtype.bytes;
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", dtype.name());
            var shape = e.putArray("shape");
            for (int s : t.shape()) {
                shape.add(s);
            }
            e.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
            largest = Math.max(largest, t.elements());
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);
        int padded = (headerBytes.length + 7) / 8 * 8;
        byte[] headerPadded = Arrays.copyOf(headerBytes, padded);
        Arrays.fill(headerPadded, headerBytes.length, padded, (byte) ' ');
        byte[] length = new byte[8];
        MemorySegment.ofArray(length).set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, padded);
        out.write(length);
        out.write(headerPadded);
        byte[] chunk = new byte[CHUNK];
        MemorySegment chunkSegment = MemorySegment.ofArray(chunk);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(4 * Math.max(1, largest), 64);
            for (Tensor t : tensors) {
                long n = t.elements();
                t.data().fill(values);
                int perChunk = CHUNK / dtype.bytes;
                for (long i = 0; i < n; i += perChunk) {
                    int count = (int) Math.min(perChunk, n - i);
                    if (dtype == Dtype.F32) {
                        MemorySegment.copy(values, JAVA_FLOAT, 4 * i, chunkSegment, F32_LE, 0, count);
                    } else {
                        for (int j = 0; j < count; j++) {
                            chunkSegment.setAtIndex(BF16_LE, j, toBf16(values.getAtIndex(JAVA_FLOAT, i + j)));
                        }
                    }
                    out.write(chunk, 0, count * dtype.bytes);
                }
            }
        }
    }

    /** Writes {@code tensors} given as arrays to {@code file} atomically (temporary file, then rename). */
    public static void write(Path file, List<Source> tensors, Dtype dtype, Map<String, String> metadata)
            throws IOException {
        List<Tensor> stream = new ArrayList<>();
        tensors.forEach(s -> stream.add(s.tensor()));
        Path parent = file.toAbsolutePath().getParent();
        try (OutputStream out = CheckpointFiles.local(parent).create(file.getFileName().toString())) {
            write(out, stream, dtype, metadata);
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

    /**
     * Reads and checks the header at the start of {@code in} ({@code where} names the file in messages), leaving the
     * stream at the first data byte.
     */
    public static Header readHeader(InputStream in, String where) throws IOException {
        byte[] lengthBytes = readExactly(in, 8, where, "the header length");
        long n = MemorySegment.ofArray(lengthBytes).get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n <= 0 || n > 100_000_000) {
            throw new IOException(where + " is not a safetensors file: header length " + n);
        }
        JsonNode root;
        try {
            root = JSON.readTree(new String(readExactly(in, (int) n, where, "the header"), StandardCharsets.UTF_8));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException(where + " is not a safetensors file: its header is not JSON", e);
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
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
                throw new IOException(where + ": tensor " + f.getKey() + " has dtype " + e.path("dtype")
                        + "; only F32 and BF16 are read");
            }
            int[] shape = new int[e.path("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = e.path("shape").get(i).asInt();
            }
            Entry entry = new Entry(f.getKey(), dtype, shape, e.path("data_offsets").path(0).asLong(-1),
                    e.path("data_offsets").path(1).asLong(-1));
            if (entry.begin() < 0 || entry.end() - entry.begin() != entry.elements() * dtype.bytes) {
                throw new IOException(where + ": tensor " + f.getKey() + " has data_offsets [" + entry.begin()
                        + ", " + entry.end() + ") that do not match its shape " + Arrays.toString(shape));
            }
            entries.put(f.getKey(), entry);
        }
        return new Header(entries, metadata, 8 + n);
    }

    /** Reads and checks the header of {@code file}. */
    public static Header readHeader(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return readHeader(in, file.toString());
        }
    }

    /**
     * Reads every tensor of {@code header} from {@code in}, positioned just after the header, in data order, and
     * hands each to {@code sink} as fp32; a stream that ends early is refused naming the tensor and {@code where}.
     */
    public static void readTensors(InputStream in, Header header, String where, TensorSink sink) throws IOException {
        List<Entry> ordered = new ArrayList<>(header.entries().values());
        ordered.sort(Comparator.comparingLong(Entry::begin));
        long largest = ordered.stream().mapToLong(Entry::elements).max().orElse(0);
        byte[] chunk = new byte[CHUNK];
        MemorySegment chunkSegment = MemorySegment.ofArray(chunk);
        long position = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment values = arena.allocate(4 * Math.max(1, largest), 64);
            for (Entry e : ordered) {
                if (e.begin() < position) {
                    throw new IOException(where + ": tensor " + e.name() + " overlaps the tensor before it");
                }
                try {
                    in.skipNBytes(e.begin() - position);
                } catch (EOFException ex) {
                    throw new IOException(where + " is truncated before tensor " + e.name(), ex);
                }
                int bytes = e.dtype().bytes;
                long n = e.elements();
                int perChunk = CHUNK / bytes;
                for (long i = 0; i < n; i += perChunk) {
                    int count = (int) Math.min(perChunk, n - i);
                    readFully(in, chunk, count * bytes, where, e.name());
                    if (e.dtype() == Dtype.F32) {
                        MemorySegment.copy(chunkSegment, F32_LE, 0, values, JAVA_FLOAT, 4 * i, count);
                    } else {
                        for (int j = 0; j < count; j++) {
                            values.setAtIndex(JAVA_FLOAT, i + j,
                                    Float.intBitsToFloat((chunkSegment.getAtIndex(BF16_LE, j) & 0xffff) << 16));
                        }
                    }
                }
                position = e.end();
                sink.accept(e, values);
            }
        }
    }

    /** Reads {@code entry} of {@code file} as fp32 into {@code dst[offset, offset + elements)}. */
    public static void read(Path file, Header header, Entry entry, float[] dst, int offset) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            in.skipNBytes(header.dataStart());
            Header only = new Header(Map.of(entry.name(), entry), header.metadata(), header.dataStart());
            readTensors(in, only, file.toString(), (e, values) -> MemorySegment.copy(values, JAVA_FLOAT, 0, dst,
                    offset, Math.toIntExact(e.elements())));
        }
    }

    private static byte[] readExactly(InputStream in, int n, String where, String what) throws IOException {
        byte[] b = new byte[n];
        if (in.readNBytes(b, 0, n) != n) {
            throw new IOException(where + " is truncated in " + what + ": not a safetensors file");
        }
        return b;
    }

    private static void readFully(InputStream in, byte[] b, int n, String where, String tensor) throws IOException {
        if (in.readNBytes(b, 0, n) != n) {
            throw new IOException(where + " is truncated inside tensor " + tensor);
        }
    }
}
