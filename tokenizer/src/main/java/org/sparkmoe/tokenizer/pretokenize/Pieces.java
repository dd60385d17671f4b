package org.sparkmoe.tokenizer.pretokenize;

import java.util.Arrays;

/**
 * A growable list of half-open char ranges {@code [start, end)} into one text: the pieces a pre-tokenizer cuts.
 * Rules refine pieces without copying text, so a whole pre-tokenizer pass allocates nothing once warmed up.
 * Not thread-safe: each encoding thread owns its own.
 */
public final class Pieces {

    private int[] bounds = new int[64];
    private int count;

    public void clear() {
        count = 0;
    }

    public int size() {
        return count;
    }

    public int start(int i) {
        return bounds[2 * i];
    }

    public int end(int i) {
        return bounds[2 * i + 1];
    }

    /** Adds {@code [start, end)}; empty ranges are dropped, as HF drops empty pieces. */
    public void add(int start, int end) {
        if (start >= end) {
            return;
        }
        if (2 * count + 2 > bounds.length) {
            bounds = Arrays.copyOf(bounds, bounds.length * 2);
        }
        bounds[2 * count] = start;
        bounds[2 * count + 1] = end;
        count++;
    }

    /** Moves the last added piece's end; used by the merging split behaviours. */
    void extendLast(int end) {
        bounds[2 * count - 1] = end;
    }

    /** Moves the last added piece's start. */
    void moveLastStart(int start) {
        bounds[2 * count - 2] = start;
    }

    /** Reverses the order of pieces {@code from..size-1}. */
    void reverseFrom(int from) {
        for (int i = from, j = count - 1; i < j; i++, j--) {
            int s = bounds[2 * i], e = bounds[2 * i + 1];
            bounds[2 * i] = bounds[2 * j];
            bounds[2 * i + 1] = bounds[2 * j + 1];
            bounds[2 * j] = s;
            bounds[2 * j + 1] = e;
        }
    }

    void swap(Pieces other) {
        int[] b = bounds;
        bounds = other.bounds;
        other.bounds = b;
        int c = count;
        count = other.count;
        other.count = c;
    }
}
