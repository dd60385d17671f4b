package org.sparkmoe.jobs.shards;

import java.io.Closeable;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import org.apache.arrow.flatbuf.Block;
import org.apache.arrow.flatbuf.Footer;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.FileHashes;

/**
 * Random access to the token stream of one shard: the concatenation, in row order, of every document's tokens.
 *
 * <p>Arrow Java would copy each record batch into its own buffers; this reader instead parses the IPC file's footer
 * and record-batch headers (flatbuffers) itself, keeps each batch's small offsets buffer in memory, and reads token
 * values straight from the file through {@link ShardStorage} (memory-mapped when local). Opening checks the file
 * against its manifest entry (length, SHA-256 when asked, token count) and the schema's format and tokenizer, and
 * refuses anything else with a {@link CorruptShardException} naming the file.
 *
 * <p>Thread-safe for reads once open.
 */
public final class ShardReader implements Closeable {

    private static final byte[] MAGIC = "ARROW1".getBytes(StandardCharsets.US_ASCII);
    private static final int CONTINUATION = 0xFFFFFFFF;

    private final String name;
    private final ShardStorage storage;
    private final Map<String, String> metadata;
    /** Shard-stream position of each batch's first token; one extra entry holds the total. */
    private final long[] batchFirstToken;
    /** File position of each batch's first token value. */
    private final long[] batchValuesPosition;
    /** Each batch's list offsets (rows + 1 entries, relative to its first token). */
    private final int[][] batchOffsets;

    private ShardReader(String name, ShardStorage storage, Map<String, String> metadata, long[] batchFirstToken,
                        long[] batchValuesPosition, int[][] batchOffsets) {
        this.name = name;
        this.storage = storage;
        this.metadata = metadata;
        this.batchFirstToken = batchFirstToken;
        this.batchValuesPosition = batchValuesPosition;
        this.batchOffsets = batchOffsets;
    }

    /**
     * Opens and checks a shard.
     *
     * @param expected       its manifest entry: length, token count and SHA-256 are checked against the file
     * @param tokenizerSha256 the manifest's tokenizer hash, which the shard's schema metadata must repeat
     * @param verifySha256   hash the whole file (one sequential read) before use
     */
    public static ShardReader open(FileSystem fs, Path path, ShardInfo expected, String tokenizerSha256,
                                   boolean verifySha256) throws IOException {
        String name = path.toString();
        if (!fs.exists(path)) {
            throw new CorruptShardException(name, "the file is missing");
        }
        ShardStorage storage = ShardStorage.open(fs, path);
        try {
            if (storage.size() != expected.bytes()) {
                throw new CorruptShardException(name, "it has " + storage.size() + " bytes but the manifest says "
                        + expected.bytes() + (storage.size() < expected.bytes() ? " (truncated)" : ""));
            }
            if (verifySha256) {
                String actual = FileHashes.sha256(fs, path);
                if (!actual.equals(expected.sha256())) {
                    throw new CorruptShardException(name, "its SHA-256 is " + actual + " but the manifest says "
                            + expected.sha256() + " (the file was modified or damaged)");
                }
            }
            ShardReader reader = parse(name, storage);
            String shardTokenizer = reader.metadata.get(ShardSchema.META_TOKENIZER_SHA256);
            if (!tokenizerSha256.equals(shardTokenizer)) {
                throw new CorruptShardException(name, "it was tokenized with tokenizer " + shardTokenizer
                        + " but the manifest names tokenizer " + tokenizerSha256);
            }
            if (reader.tokenCount() != expected.tokens() || reader.documentCount() != expected.documents()) {
                throw new CorruptShardException(name, "it holds " + reader.documentCount() + " documents and "
                        + reader.tokenCount() + " tokens but the manifest says " + expected.documents() + " and "
                        + expected.tokens());
            }
            return reader;
        } catch (IOException | RuntimeException e) {
            storage.close();
            throw e;
        }
    }

    private static ShardReader parse(String name, ShardStorage storage) throws IOException {
        try {
            long size = storage.size();
            byte[] head = new byte[MAGIC.length];
            byte[] tail = new byte[MAGIC.length + 4];
            if (size < 2L * MAGIC.length + 4) {
                throw new CorruptShardException(name, "it is only " + size + " bytes long, not an Arrow IPC file");
            }
            storage.readBytes(0, head, 0, head.length);
            storage.readBytes(size - tail.length, tail, 0, tail.length);
            if (!Arrays.equals(head, MAGIC) || !Arrays.equals(Arrays.copyOfRange(tail, 4, tail.length), MAGIC)) {
                throw new CorruptShardException(name, "it does not start and end with the Arrow file magic ARROW1");
            }
            int footerLength = ByteBuffer.wrap(tail, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
            long footerStart = size - tail.length - footerLength;
            if (footerLength <= 0 || footerStart < MAGIC.length) {
                throw new CorruptShardException(name, "its footer length " + footerLength + " does not fit the file");
            }
            Footer footer = Footer.getRootAsFooter(read(storage, footerStart, footerLength));
            Schema schema = Schema.convertSchema(footer.schema());
            Map<String, String> metadata = schema.getCustomMetadata();
            if (!ShardSchema.FORMAT.equals(metadata.get(ShardSchema.META_FORMAT))
                    || !Integer.toString(ShardSchema.FORMAT_VERSION).equals(metadata.get(ShardSchema.META_FORMAT_VERSION))
                    || !schema.getFields().getFirst().getName().equals(ShardSchema.TOKENS)) {
                throw new CorruptShardException(name, "its schema is not " + ShardSchema.FORMAT + " version "
                        + ShardSchema.FORMAT_VERSION + ": " + schema);
            }
            int batches = footer.recordBatchesLength();
            long[] firstToken = new long[batches + 1];
            long[] valuesPosition = new long[batches];
            int[][] offsets = new int[batches][];
            Block block = new Block();
            for (int b = 0; b < batches; b++) {
                footer.recordBatches(block, b);
                RecordBatch batch = recordBatch(name, storage, block, b);
                if (batch.compression() != null) {
                    throw new CorruptShardException(name, "record batch " + b + " is compressed; token shards are"
                            + " written uncompressed (the reader maps them directly)");
                }
                if (batch.buffersLength() != ShardSchema.BUFFER_COUNT) {
                    throw new CorruptShardException(name, "record batch " + b + " has " + batch.buffersLength()
                            + " buffers, expected " + ShardSchema.BUFFER_COUNT);
                }
                int rows = Math.toIntExact(batch.length());
                long bodyStart = block.offset() + block.metaDataLength();
                long offsetsPosition = bodyStart + batch.buffers(ShardSchema.TOKEN_OFFSETS_BUFFER).offset();
                long valuesStart = bodyStart + batch.buffers(ShardSchema.TOKEN_VALUES_BUFFER).offset();
                long valuesLength = batch.buffers(ShardSchema.TOKEN_VALUES_BUFFER).length();
                if (offsetsPosition + 4L * (rows + 1) > footerStart || valuesStart + valuesLength > footerStart) {
                    throw new CorruptShardException(name, "record batch " + b + " points past the end of the data");
                }
                int[] batchOffsets = new int[rows + 1];
                storage.readInts(offsetsPosition, batchOffsets, 0, rows + 1);
                int base = batchOffsets[0];
                for (int r = 0; r <= rows; r++) {
                    batchOffsets[r] -= base;
                    if (r > 0 && batchOffsets[r] < batchOffsets[r - 1]) {
                        throw new CorruptShardException(name, "record batch " + b + " has decreasing offsets at row " + r);
                    }
                }
                if (4L * (base + (long) batchOffsets[rows]) > valuesLength) {
                    throw new CorruptShardException(name, "record batch " + b + " lists more tokens than it stores");
                }
                offsets[b] = batchOffsets;
                valuesPosition[b] = valuesStart + 4L * base;
                firstToken[b + 1] = firstToken[b] + batchOffsets[rows];
            }
            return new ShardReader(name, storage, metadata, firstToken, valuesPosition, offsets);
        } catch (IndexOutOfBoundsException | IllegalArgumentException | IllegalStateException
                 | ArithmeticException | UnsupportedOperationException e) {
            throw new CorruptShardException(name, "its Arrow metadata cannot be parsed (" + e + ")");
        }
    }

    private static RecordBatch recordBatch(String name, ShardStorage storage, Block block, int index) throws IOException {
        ByteBuffer meta = read(storage, block.offset(), block.metaDataLength());
        int prefix = meta.getInt(0) == CONTINUATION ? 8 : 4;
        meta.position(prefix);
        Message message = Message.getRootAsMessage(meta.slice().order(ByteOrder.LITTLE_ENDIAN));
        if (message.headerType() != MessageHeader.RecordBatch) {
            throw new CorruptShardException(name, "block " + index + " of the footer is not a record batch");
        }
        return (RecordBatch) message.header(new RecordBatch());
    }

    private static ByteBuffer read(ShardStorage storage, long position, int length) throws IOException {
        if (length < 0 || position < 0 || position + length > storage.size()) {
            throw new IndexOutOfBoundsException("range " + position + "+" + length + " of " + storage.size() + " bytes");
        }
        byte[] bytes = new byte[length];
        storage.readBytes(position, bytes, 0, length);
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    public String name() {
        return name;
    }

    /** The schema's custom metadata ({@link ShardSchema}'s {@code META_*} keys). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public long tokenCount() {
        return batchFirstToken[batchFirstToken.length - 1];
    }

    public long documentCount() {
        long documents = 0;
        for (int[] offsets : batchOffsets) {
            documents += offsets.length - 1;
        }
        return documents;
    }

    /** Copies {@code count} tokens starting at shard-stream position {@code from}; may span record batches. */
    public void readTokens(long from, int[] dst, int offset, int count) throws IOException {
        checkRange(from, count);
        int batch = batchOf(from);
        while (count > 0) {
            int inBatch = (int) (from - batchFirstToken[batch]);
            int n = (int) Math.min(count, batchFirstToken[batch + 1] - from);
            storage.readInts(batchValuesPosition[batch] + 4L * inBatch, dst, offset, n);
            from += n;
            offset += n;
            count -= n;
            batch++;
        }
    }

    /** Off-heap variant of {@link #readTokens(long, int[], int, int)}: int32 values at byte {@code dstOffset}. */
    public void readTokens(long from, MemorySegment dst, long dstOffset, int count) throws IOException {
        checkRange(from, count);
        int batch = batchOf(from);
        while (count > 0) {
            int inBatch = (int) (from - batchFirstToken[batch]);
            int n = (int) Math.min(count, batchFirstToken[batch + 1] - from);
            storage.readInts(batchValuesPosition[batch] + 4L * inBatch, dst, dstOffset, n);
            from += n;
            dstOffset += 4L * n;
            count -= n;
            batch++;
        }
    }

    /**
     * Shard-stream positions where documents start, in row order, with the stream's end as the last entry:
     * what per-document attention or loss masks are built from.
     */
    public long[] documentStarts() {
        long[] starts = new long[Math.toIntExact(documentCount() + 1)];
        int doc = 0;
        for (int b = 0; b < batchOffsets.length; b++) {
            int[] offsets = batchOffsets[b];
            for (int r = 0; r < offsets.length - 1; r++) {
                starts[doc++] = batchFirstToken[b] + offsets[r];
            }
        }
        starts[doc] = tokenCount();
        return starts;
    }

    private int batchOf(long position) {
        int i = Arrays.binarySearch(batchFirstToken, position);
        if (i >= 0) {
            while (i + 1 < batchFirstToken.length - 1 && batchFirstToken[i + 1] == position) {
                i++;
            }
            return i;
        }
        return -i - 2;
    }

    private void checkRange(long from, int count) {
        if (from < 0 || count < 0 || from + count > tokenCount()) {
            throw new IndexOutOfBoundsException("tokens " + from + "+" + count + " outside shard " + name + " of "
                    + tokenCount() + " tokens");
        }
    }

    @Override
    public void close() throws IOException {
        storage.close();
    }
}
