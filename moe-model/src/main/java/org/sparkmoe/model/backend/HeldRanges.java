package org.sparkmoe.model.backend;

import java.util.ArrayList;
import java.util.List;

/**
 * The address ranges of the tensors a backend holds unwritten ({@link Backend#holdOperands}), so that a GEMM writing
 * one of them inside the scope fails instead of leaving products to read a stale copy. Backends without copies check
 * the contract all the same, so the CPU tests catch what would go wrong on a GPU.
 */
public final class HeldRanges {

    /** Bytes {@code [start, end)} of the tensor {@code name}. */
    public record Range(String name, long start, long end) {

        boolean overlaps(Range other) {
            return start < other.end && other.start < end;
        }
    }

    private final List<Range> held = new ArrayList<>();

    /** Holds {@code ranges} until the returned scope closes. */
    public HeldOperands hold(List<Range> ranges) {
        List<Range> added = List.copyOf(ranges);
        held.addAll(added);
        return () -> added.forEach(held::remove);
    }

    /** Refuses a GEMM whose output {@code output} overlaps a held tensor. */
    public void refuseOutput(Range output) {
        for (Range h : held) {
            if (h.overlaps(output)) {
                throw new IllegalStateException("GEMM output " + output.name() + " overlaps " + h.name() + ", which is"
                        + " held for the products of this scope (Backend.holdOperands or produceOperands); write it"
                        + " after the scope closes");
            }
        }
    }
}
