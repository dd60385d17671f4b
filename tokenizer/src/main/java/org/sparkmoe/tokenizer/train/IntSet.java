package org.sparkmoe.tokenizer.train;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/** Distinct ints in insertion order: the pairs one merge made more frequent, queued once each. */
final class IntSet {

    private final Set<Integer> seen = new HashSet<>();
    private int[] values = new int[16];
    private int size;

    void add(int v) {
        if (seen.add(v)) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = v;
        }
    }

    int size() {
        return size;
    }

    int get(int i) {
        return values[i];
    }
}
