package org.sparkmoe.jobs.shards;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.security.DigestOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.AtomicPublish;
import org.sparkmoe.jobs.io.FileHashes;

/**
 * Writes one token shard: an uncompressed Arrow IPC file of {@link ShardSchema} rows, in record batches of about
 * {@code batchTokens} tokens (whole documents; a batch closes once it holds that many). The file is written under
 * a staging name of its own (so concurrent attempts at one shard never share a file) and published under its final
 * name by {@link #finish()} ({@link AtomicPublish}), which returns the manifest entry with the file's SHA-256
 * ({@link FileHashes}, computed as the bytes are written). Output is a pure function of the rows added and their
 * order: no timestamps, zeroed padding.
 */
public final class ShardWriter implements Closeable {

    private final FileSystem fs;
    private final AtomicPublish publish;
    private final String relativePath;
    private final int batchTokens;
    private final DigestOutputStream out;
    private final BufferAllocator allocator;
    private final VectorSchemaRoot root;
    private final ArrowFileWriter writer;

    private final List<int[]> pendingTokens = new ArrayList<>();
    private final List<byte[]> pendingIds = new ArrayList<>();
    private final List<byte[]> pendingLangs = new ArrayList<>();
    private long pendingTokenCount;
    private long documents;
    private long tokens;
    private int recordBatches;
    private final Map<String, Long> tokensPerLanguage = new TreeMap<>();
    private boolean finished;
    private String sha256;
    private boolean closed;

    private ShardWriter(FileSystem fs, Path finalPath, String relativePath, Schema schema, int batchTokens)
            throws IOException {
        this.fs = fs;
        this.publish = AtomicPublish.begin(fs, finalPath);
        this.relativePath = relativePath;
        this.batchTokens = batchTokens;
        this.out = FileHashes.hashing(fs.create(publish.staging(), false));
        this.allocator = new RootAllocator();
        this.root = VectorSchemaRoot.create(schema, allocator);
        this.writer = new ArrowFileWriter(root, null, Channels.newChannel(out));
        writer.start();
    }

    /**
     * Opens a shard for writing.
     *
     * @param finalPath    where the finished shard goes
     * @param relativePath the path the manifest records (relative to the manifest's directory)
     */
    public static ShardWriter create(FileSystem fs, Path finalPath, String relativePath, Schema schema,
                                     int batchTokens) throws IOException {
        if (batchTokens <= 0) {
            throw new IllegalArgumentException("batchTokens must be positive, got " + batchTokens);
        }
        return new ShardWriter(fs, finalPath, relativePath, schema, batchTokens);
    }

    /** Adds one document; {@code tokens} already carries EOS (and BOS when configured). */
    public void add(String docId, String lang, int[] tokenIds) throws IOException {
        if (finished) {
            throw new IllegalStateException("shard " + publish.target() + " is already finished");
        }
        pendingTokens.add(tokenIds);
        pendingIds.add(docId.getBytes(StandardCharsets.UTF_8));
        pendingLangs.add(lang.getBytes(StandardCharsets.UTF_8));
        pendingTokenCount += tokenIds.length;
        documents++;
        tokens += tokenIds.length;
        tokensPerLanguage.merge(lang, (long) tokenIds.length, Long::sum);
        if (pendingTokenCount >= batchTokens) {
            flushBatch();
        }
    }

    /** Writes the last batch and the footer, publishes the file under its final name and describes it. */
    public ShardInfo finish() throws IOException {
        if (!finished) {
            flushBatch();
            writer.end();
            finished = true;
            release();
            publish.commit();
            sha256 = FileHashes.sha256(out);
        }
        long bytes = fs.getFileStatus(publish.target()).getLen();
        return new ShardInfo(relativePath, bytes, sha256, documents, tokens, recordBatches, tokensPerLanguage);
    }

    private void flushBatch() throws IOException {
        int rows = pendingTokens.size();
        if (rows == 0) {
            return;
        }
        if (pendingTokenCount > Integer.MAX_VALUE - 8) {
            throw new IOException("record batch of " + pendingTokenCount + " tokens exceeds Arrow's int32 list offsets"
                    + " (a document is too long); lower shard.batch-tokens or split the document");
        }
        root.allocateNew();
        ListVector list = (ListVector) root.getVector(ShardSchema.TOKENS);
        IntVector items = (IntVector) list.getDataVector();
        VarCharVector ids = (VarCharVector) root.getVector(ShardSchema.DOC_ID);
        VarCharVector langs = (VarCharVector) root.getVector(ShardSchema.LANG);
        items.allocateNew((int) pendingTokenCount);
        for (int row = 0; row < rows; row++) {
            int[] doc = pendingTokens.get(row);
            int start = list.startNewValue(row);
            for (int j = 0; j < doc.length; j++) {
                items.set(start + j, doc[j]);
            }
            list.endValue(row, doc.length);
            ids.setSafe(row, pendingIds.get(row));
            langs.setSafe(row, pendingLangs.get(row));
        }
        root.setRowCount(rows);
        writer.writeBatch();
        recordBatches++;
        pendingTokens.clear();
        pendingIds.clear();
        pendingLangs.clear();
        pendingTokenCount = 0;
    }

    /** Releases the Arrow memory and the output stream; an unfinished shard's staging file is deleted. */
    @Override
    public void close() throws IOException {
        try {
            release();
        } finally {
            publish.close();
        }
    }

    private void release() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            writer.close();
        } finally {
            root.close();
            allocator.close();
            out.close();
        }
    }
}
