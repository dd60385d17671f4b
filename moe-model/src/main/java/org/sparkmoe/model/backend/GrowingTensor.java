package org.sparkmoe.model.backend;

/**
 * A buffer whose needed size is known only when it is about to be written (under expert parallelism, the rows the
 * routing sends a rank), holding rows of {@code width} elements: it starts at {@code initialRows}, and when a call
 * needs more it is replaced by one with a quarter more than needed (at most {@code maxRows}), the old one freed.
 * The content does not survive a growth, so it must be asked for before each write, never between a write and the
 * reads of that content. A {@link #fixed} one wraps a tensor that is already as large as it may need.
 */
public final class GrowingTensor {

    private final Backend backend;
    private final String name;
    private final DType dtype;
    private final long width;
    private final long maxRows;
    private Tensor current;
    private long rows;

    public GrowingTensor(Backend backend, String name, DType dtype, long width, long initialRows, long maxRows) {
        if (initialRows > maxRows) {
            throw new IllegalArgumentException(name + ": " + initialRows + " initial rows exceed the most it may need, "
                    + maxRows);
        }
        this(backend, name, dtype, width, maxRows, initialRows, backend.allocate(name, dtype, initialRows * width));
    }

    private GrowingTensor(Backend backend, String name, DType dtype, long width, long maxRows, long rows,
                          Tensor current) {
        this.backend = backend;
        this.name = name;
        this.dtype = dtype;
        this.width = width;
        this.maxRows = maxRows;
        this.rows = rows;
        this.current = current;
    }

    /** A buffer that never grows: {@code t}, holding rows of {@code width}, is already the most it may need. */
    public static GrowingTensor fixed(Tensor t, long width) {
        long rows = t.size() / width;
        return new GrowingTensor(null, t.name(), t.dtype(), width, rows, rows, t);
    }

    /** The buffer, with room for at least {@code needed} rows; a new one (content lost) when it had to grow. */
    public Tensor rows(long needed) {
        if (needed > maxRows) {
            throw new IllegalArgumentException(name + ": " + needed + " rows exceed the most it was built for, "
                    + maxRows);
        }
        if (needed > rows) {
            backend.free(current);
            rows = Math.min(maxRows, Math.max(needed, needed + needed / 4));
            current = backend.allocate(name, dtype, rows * width);
        }
        return current;
    }

    /** The buffer as it is (after the last {@link #rows} call). */
    public Tensor current() {
        return current;
    }

    /** Rows it holds now. */
    public long capacityRows() {
        return rows;
    }
}
