package org.sparkmoe.jobs.prepare;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.spark.JobHadoop;

/**
 * Reads the records of one {@link InputSplit} as {@link RawDocument}s, lazily. Lines are read as raw bytes (never
 * through a decoding reader) so invalid UTF-8 is seen and judged per record; a line longer than
 * {@code decode.max-record-bytes} is skipped over without being held and reported as {@code record_too_large}.
 * A file whose first 8 KiB hold NUL bytes or mostly control bytes is a binary file: it becomes one rejected
 * record ({@code binary_file}) instead of thousands of garbage lines.
 */
final class SplitReader {

    private static final int SNIFF_BYTES = 8192;
    private static final double MAX_CONTROL_BYTE_SHARE = 0.1;

    private SplitReader() {}

    static Iterator<RawDocument> read(InputSplit split, RecordDecoder decoder, int maxRecordBytes) {
        Configuration conf = JobHadoop.current();
        Path path = new Path(split.uri());
        try {
            FileSystem fs = path.getFileSystem(conf);
            if (isBinary(fs, path)) {
                return split.start() == 0
                        ? List.of(RawDocument.rejected(split.uri(), 0, split.fileLength(), RecordDecoder.BINARY_FILE, null))
                        .iterator()
                        : List.<RawDocument>of().iterator();
            }
            if (split.format() == InputFormat.TEXT) {
                return List.of(textFile(fs, path, split, decoder, maxRecordBytes)).iterator();
            }
            return new LineIterator(fs.open(path), split, decoder, maxRecordBytes);
        } catch (IOException e) {
            return List.of(RawDocument.rejected(split.uri(), split.start(), split.end() - split.start(),
                    RecordDecoder.UNREADABLE_FILE, e.toString())).iterator();
        }
    }

    static boolean isBinary(FileSystem fs, Path path) throws IOException {
        byte[] head = new byte[SNIFF_BYTES];
        int n;
        try (InputStream in = fs.open(path)) {
            n = in.readNBytes(head, 0, head.length);
        }
        int control = 0;
        for (int i = 0; i < n; i++) {
            int b = head[i] & 0xFF;
            if (b == 0) {
                return true;
            }
            if (b < 0x20 && b != '\n' && b != '\r' && b != '\t' && b != '\f' && b != 0x1B && b != '\b') {
                control++;
            }
        }
        return n > 0 && control > MAX_CONTROL_BYTE_SHARE * n;
    }

    private static RawDocument textFile(FileSystem fs, Path path, InputSplit split, RecordDecoder decoder,
                                        int maxRecordBytes) throws IOException {
        if (split.fileLength() > maxRecordBytes) {
            return RawDocument.rejected(split.uri(), 0, split.fileLength(), RecordDecoder.RECORD_TOO_LARGE, null);
        }
        try (InputStream in = fs.open(path)) {
            byte[] bytes = in.readAllBytes();
            return decoder.textFile(bytes, bytes.length, split.uri());
        }
    }

    /** The lines that start in [start, end) of a JSONL file, each decoded into a document. */
    private static final class LineIterator implements Iterator<RawDocument> {
        private final InputStream in;
        private final InputSplit split;
        private final RecordDecoder decoder;
        private final int maxRecordBytes;
        private byte[] line = new byte[1 << 16];
        private long position;
        private RawDocument next;
        private boolean closed;

        LineIterator(FSDataInputStream raw, InputSplit split, RecordDecoder decoder, int maxRecordBytes)
                throws IOException {
            this.split = split;
            this.decoder = decoder;
            this.maxRecordBytes = maxRecordBytes;
            if (split.start() > 0) {
                // The line that contains byte start-1 belongs to the previous split.
                raw.seek(split.start() - 1);
                this.in = new BufferedInputStream(raw, 1 << 16);
                this.position = split.start() - 1;
                int b;
                while ((b = in.read()) >= 0) {
                    position++;
                    if (b == '\n') {
                        break;
                    }
                }
            } else {
                this.in = new BufferedInputStream(raw, 1 << 16);
            }
        }

        @Override
        public boolean hasNext() {
            while (next == null && !closed) {
                next = readRecord();
            }
            return next != null;
        }

        @Override
        public RawDocument next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            RawDocument out = next;
            next = null;
            return out;
        }

        /** The next record, null for a blank line, and closes at the end of the split. */
        private RawDocument readRecord() {
            if (position >= split.end()) {
                close();
                return null;
            }
            long lineStart = position;
            int kept = 0;
            long length = 0;
            boolean sawAny = false;
            try {
                int b;
                while ((b = in.read()) >= 0) {
                    sawAny = true;
                    position++;
                    if (b == '\n') {
                        break;
                    }
                    if (length < maxRecordBytes) {
                        if (kept == line.length) {
                            line = java.util.Arrays.copyOf(line, Math.min(maxRecordBytes, line.length * 2));
                        }
                        line[kept++] = (byte) b;
                    }
                    length++;
                }
            } catch (IOException e) {
                close();
                return RawDocument.rejected(split.uri(), lineStart, length, RecordDecoder.UNREADABLE_FILE, e.toString());
            }
            if (!sawAny) {
                close();
                return null;
            }
            if (kept > 0 && line[kept - 1] == '\r') {
                kept--;
            }
            if (length > maxRecordBytes) {
                return RawDocument.rejected(split.uri(), lineStart, length, RecordDecoder.RECORD_TOO_LARGE,
                        decoder.sample(RecordDecoder.lossy(line, Math.min(kept, 4 * 1024))));
            }
            if (isBlank(line, kept)) {
                return null;
            }
            return decoder.jsonLine(line, kept, split.uri(), lineStart);
        }

        private static boolean isBlank(byte[] bytes, int length) {
            for (int i = 0; i < length; i++) {
                if (bytes[i] != ' ' && bytes[i] != '\t' && bytes[i] != '\r') {
                    return false;
                }
            }
            return true;
        }

        private void close() {
            if (!closed) {
                closed = true;
                try {
                    in.close();
                } catch (IOException ignored) {
                    // Reading is finished; a failing close loses nothing.
                }
            }
        }
    }
}
