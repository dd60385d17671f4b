package org.sparkmoe.tokenizer.bpe;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Encodes pre-tokenized pieces with a {@link BpeModel}. Thread-safe: the piece cache is concurrent and every
 * buffer lives in a per-thread {@link Workspace}.
 *
 * <p>Algorithm (the same result as HF's {@code Word::merge_all}): the piece's UTF-8 bytes start as one symbol each
 * in a doubly linked list; a binary min-heap holds candidate merges keyed {@code rank << 32 | position}, so the
 * lowest-rank pair is merged first and, among equal ranks, the leftmost. A popped candidate is stale when the pair
 * now at its position has another rank; it is then dropped. O(n log n) per piece of n bytes, no allocation.
 *
 * <p>Repeated pieces (most words) hit a bounded cache of piece text to ids; when the cache is full it stops
 * growing, so memory is bounded whatever the input.
 *
 * <p>Text that is not valid UTF-16: each unpaired surrogate is encoded as U+FFFD (bytes EF BF BD), which is what
 * Rust's lossy conversion, and so HF through DJL, does with it. Decoding gives U+FFFD back.
 */
public final class BpeEncoder {

    /** Per-thread buffers of the encoder; obtain one per thread with {@link #newWorkspace()}. */
    public static final class Workspace {
        byte[] bytes = new byte[256];
        int[] symbols = new int[256];
        int[] next = new int[256];
        int[] prev = new int[256];
        // n - 1 initial candidates plus at most two per merge: the heap never holds more than 3n entries.
        long[] heap = new long[3 * 256];

        void ensure(int n) {
            if (n > symbols.length) {
                int c = Math.max(n, symbols.length * 2);
                symbols = new int[c];
                next = new int[c];
                prev = new int[c];
                heap = new long[3 * c];
            }
        }
    }

    private static final byte[] REPLACEMENT = {(byte) 0xEF, (byte) 0xBF, (byte) 0xBD};

    private final BpeModel model;
    private final MergeTable merges;
    private final ConcurrentHashMap<String, int[]> cache;
    private final int cacheCapacity;

    public BpeEncoder(BpeModel model, int cacheCapacity) {
        this.model = model;
        this.merges = model.mergeTable();
        this.cacheCapacity = cacheCapacity;
        this.cache = new ConcurrentHashMap<>(Math.min(cacheCapacity, 1 << 16));
    }

    public Workspace newWorkspace() {
        return new Workspace();
    }

    /** Appends the ids of the piece {@code text[start, end)} to {@code out}. */
    public void encodePiece(String text, int start, int end, Workspace ws, IntList out) {
        if (end - start == 1 && text.charAt(start) < 0x80) {
            out.add(model.idOfByte(text.charAt(start)));
            return;
        }
        String key = text.substring(start, end);
        int[] cached = cache.get(key);
        if (cached != null) {
            out.addAll(cached);
            return;
        }
        int n = utf8(text, start, end, ws);
        int from = out.size();
        mergeBytes(ws, n, out);
        if (cache.size() < cacheCapacity) {
            int[] ids = new int[out.size() - from];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = out.get(from + i);
            }
            cache.put(key, ids);
        }
    }

    /** UTF-8 of {@code text[start, end)} into {@code ws.bytes}, unpaired surrogates as U+FFFD; returns the length. */
    static int utf8(String text, int start, int end, Workspace ws) {
        int worst = 3 * (end - start);
        if (ws.bytes.length < worst) {
            ws.bytes = new byte[Math.max(worst, ws.bytes.length * 2)];
        }
        byte[] b = ws.bytes;
        int n = 0;
        for (int i = start; i < end; i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                b[n++] = (byte) c;
            } else if (c < 0x800) {
                b[n++] = (byte) (0xC0 | (c >> 6));
                b[n++] = (byte) (0x80 | (c & 0x3F));
            } else if (Character.isHighSurrogate(c) && i + 1 < end && Character.isLowSurrogate(text.charAt(i + 1))) {
                int cp = Character.toCodePoint(c, text.charAt(++i));
                b[n++] = (byte) (0xF0 | (cp >> 18));
                b[n++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
                b[n++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                b[n++] = (byte) (0x80 | (cp & 0x3F));
            } else if (Character.isSurrogate(c)) {
                b[n++] = REPLACEMENT[0];
                b[n++] = REPLACEMENT[1];
                b[n++] = REPLACEMENT[2];
            } else {
                b[n++] = (byte) (0xE0 | (c >> 12));
                b[n++] = (byte) (0x80 | ((c >> 6) & 0x3F));
                b[n++] = (byte) (0x80 | (c & 0x3F));
            }
        }
        return n;
    }

    private void mergeBytes(Workspace ws, int n, IntList out) {
        if (model.ignoreMerges()) {
            int whole = model.idOfBytes(ws.bytes, n);
            if (whole >= 0) {
                out.add(whole);
                return;
            }
        }
        ws.ensure(n);
        int[] sym = ws.symbols;
        int[] next = ws.next;
        int[] prev = ws.prev;
        long[] heap = ws.heap;
        for (int i = 0; i < n; i++) {
            sym[i] = model.idOfByte(ws.bytes[i]);
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        int heapSize = 0;
        for (int i = 0; i + 1 < n; i++) {
            long m = merges.get(sym[i], sym[i + 1]);
            if (m != MergeTable.ABSENT) {
                heapSize = push(heap, heapSize, (m & 0xFFFFFFFF00000000L) | i);
            }
        }
        while (heapSize > 0) {
            long top = heap[0];
            heapSize = pop(heap, heapSize);
            int pos = (int) top;
            int right = next[pos];
            if (sym[pos] < 0 || right < 0) {
                continue;
            }
            long m = merges.get(sym[pos], sym[right]);
            if (m == MergeTable.ABSENT || (m >>> 32) != (top >>> 32)) {
                continue; // stale: the pair at this position changed since the candidate was pushed
            }
            sym[pos] = (int) m;
            sym[right] = -1;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) {
                prev[after] = pos;
                long r = merges.get(sym[pos], sym[after]);
                if (r != MergeTable.ABSENT) {
                    heapSize = push(heap, heapSize, (r & 0xFFFFFFFF00000000L) | pos);
                }
            }
            int before = prev[pos];
            if (before >= 0) {
                long l = merges.get(sym[before], sym[pos]);
                if (l != MergeTable.ABSENT) {
                    heapSize = push(heap, heapSize, (l & 0xFFFFFFFF00000000L) | before);
                }
            }
        }
        for (int i = 0; i >= 0; i = next[i]) {
            out.add(sym[i]);
        }
    }

    private static int push(long[] heap, int size, long value) {
        int i = size;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] <= value) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = value;
        return size + 1;
    }

    private static int pop(long[] heap, int size) {
        long last = heap[--size];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && heap[child + 1] < heap[child]) {
                child++;
            }
            if (last <= heap[child]) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        if (size > 0) {
            heap[i] = last;
        }
        return size;
    }

    /** Number of cached pieces (for tests and benchmarks). */
    public int cachedPieces() {
        return cache.size();
    }
}
