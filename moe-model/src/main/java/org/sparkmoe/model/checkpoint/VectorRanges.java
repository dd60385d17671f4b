package org.sparkmoe.model.checkpoint;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;

/**
 * A flat fp32 vector in a {@code ParameterLayout}'s order (the parameters, one of AdamW's moments, an outer
 * momentum) moved range by range, so that a vector past 2^31 elements is never one Java array: a {@link Source} is
 * read from, a {@link Sink} written to. Ranges are element offsets; the segments hold fp32 values in native order
 * from their start.
 */
public final class VectorRanges {

    private VectorRanges() {}

    /** Copies values {@code [first, first + count)} of a vector into the start of {@code dst}. */
    @FunctionalInterface
    public interface Source {
        void read(long first, long count, MemorySegment dst);

        /** The same vector shifted: element i of the result is element {@code offset + i} of this one. */
        default Source from(long offset) {
            return (first, count, dst) -> read(offset + first, count, dst);
        }
    }

    /** Replaces values {@code [first, first + count)} of a vector by the start of {@code src}. */
    @FunctionalInterface
    public interface Sink {
        void write(long first, long count, MemorySegment src);

        /** The same vector shifted: element i of the result is element {@code offset + i} of this one. */
        default Sink from(long offset) {
            return (first, count, src) -> write(offset + first, count, src);
        }
    }

    /** The values of {@code values} as a source. */
    public static Source of(float[] values) {
        return (first, count, dst) -> MemorySegment.copy(values, Math.toIntExact(first), dst, JAVA_FLOAT, 0,
                Math.toIntExact(count));
    }

    /** {@code values} as a sink. */
    public static Sink into(float[] values) {
        return (first, count, src) -> MemorySegment.copy(src, JAVA_FLOAT, 0, values, Math.toIntExact(first),
                Math.toIntExact(count));
    }

    /** The fp32 values of {@code vector} (native memory or an array's) as a source. */
    public static Source of(MemorySegment vector) {
        return (first, count, dst) -> MemorySegment.copy(vector, 4 * first, dst, 0, 4 * count);
    }

    /** {@code vector} as a sink. */
    public static Sink into(MemorySegment vector) {
        return (first, count, src) -> MemorySegment.copy(src, 0, vector, 4 * first, 4 * count);
    }
}
