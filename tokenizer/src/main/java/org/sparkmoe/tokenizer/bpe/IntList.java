package org.sparkmoe.tokenizer.bpe;

import java.util.Arrays;

/** A growable {@code int} list: token ids are collected here without boxing. Not thread-safe. */
public final class IntList {

    private int[] values;
    private int size;

    public IntList() {
        this(64);
    }

    public IntList(int capacity) {
        values = new int[Math.max(4, capacity)];
    }

    public void add(int v) {
        if (size == values.length) {
            values = Arrays.copyOf(values, size * 2);
        }
        values[size++] = v;
    }

    public void addAll(int[] vs) {
        if (size + vs.length > values.length) {
            values = Arrays.copyOf(values, Math.max(size * 2, size + vs.length));
        }
        System.arraycopy(vs, 0, values, size, vs.length);
        size += vs.length;
    }

    public int get(int i) {
        return values[i];
    }

    public int size() {
        return size;
    }

    public void clear() {
        size = 0;
    }

    public int[] toArray() {
        return Arrays.copyOf(values, size);
    }
}
