package org.sparkmoe.model.backend;

import java.util.Arrays;

/**
 * Where AdamW's weight decay applies along a flat parameter vector: consecutive ranges covering it from element 0,
 * range i being {@code [ends[i-1], ends[i])} (the first starts at 0), decayed or not. A model's parameter layout gives
 * one range per run of tensors that agree (matrices decay, norm weights do not), so {@link Backend#adamw} updates the
 * whole parameter arena in one call.
 *
 * @param ends    exclusive end of each range, strictly increasing from more than 0; the last is the vector's length
 * @param decayed whether range i is decayed; as long as {@code ends}
 */
public record DecayRanges(long[] ends, boolean[] decayed) {

    public DecayRanges {
        if (ends.length == 0 || ends.length != decayed.length) {
            throw new IllegalArgumentException("decay ranges need at least one range and one flag per range: "
                    + ends.length + " ends, " + decayed.length + " flags");
        }
        long previous = 0;
        for (long end : ends) {
            if (end <= previous) {
                throw new IllegalArgumentException("decay range ends must increase from above 0: " + Arrays.toString(ends));
            }
            previous = end;
        }
        ends = ends.clone();
        decayed = decayed.clone();
    }

    /** One range over all {@code elements}. */
    public static DecayRanges whole(long elements, boolean decayed) {
        return new DecayRanges(new long[] {elements}, new boolean[] {decayed});
    }

    /** Number of ranges. */
    public int count() {
        return ends.length;
    }

    /** First element of range {@code i}. */
    public long start(int i) {
        return i == 0 ? 0 : ends[i - 1];
    }

    /** Exclusive end of range {@code i}. */
    public long end(int i) {
        return ends[i];
    }

    /** Elements covered: the length of the vector these ranges cut. */
    public long elements() {
        return ends[ends.length - 1];
    }

    /** Refuses ranges that do not cover exactly the elements of {@code t}. */
    public void requireCovers(Tensor t) {
        if (elements() != t.size()) {
            throw new IllegalArgumentException("decay ranges cover " + elements() + " elements but tensor " + t.name()
                    + " has " + t.size() + ": AdamW's ranges must cover the whole tensors");
        }
    }

    @Override
    public long[] ends() {
        return ends.clone();
    }

    @Override
    public boolean[] decayed() {
        return decayed.clone();
    }

    /** Whether range {@code i} is decayed. */
    public boolean decayed(int i) {
        return decayed[i];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DecayRanges r && Arrays.equals(r.ends, ends) && Arrays.equals(r.decayed, decayed);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ends) * 31 + Arrays.hashCode(decayed);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("DecayRanges[");
        for (int i = 0; i < ends.length; i++) {
            s.append(i == 0 ? "" : ", ").append('[').append(start(i)).append(", ").append(ends[i]).append(')')
                    .append(decayed[i] ? " decayed" : "");
        }
        return s.append(']').toString();
    }
}
