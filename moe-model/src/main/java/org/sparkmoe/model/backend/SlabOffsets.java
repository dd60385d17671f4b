package org.sparkmoe.model.backend;

/**
 * Where each group's rows lie in an expert-major slab, held in backend memory: {@code offsets_G1} holds
 * {@code groups + 1} int32 prefix sums of the rows per group (the first 0, the last {@code rows}), as
 * {@link Backend#routeExperts} writes them. The host knows only the total, {@code rows}, which sizes the products;
 * the grouped GEMMs that take this read the split on the device, so the host never waits for it.
 */
public record SlabOffsets(Tensor offsets_G1, int groups, long rows) {

    public SlabOffsets {
        if (groups < 0 || rows < 0) {
            throw new IllegalArgumentException("slab offsets of " + groups + " groups over " + rows
                    + " rows: both must be >= 0");
        }
        if (offsets_G1.size() < groups + 1L) {
            throw new IllegalArgumentException("the offsets tensor '" + offsets_G1.name() + "' holds "
                    + offsets_G1.size() + " elements; " + groups + " groups need " + (groups + 1));
        }
    }
}
