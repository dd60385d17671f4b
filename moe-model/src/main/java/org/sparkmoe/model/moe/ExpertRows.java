package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.SlabOffsets;
import org.sparkmoe.model.backend.Tensor;

/**
 * Where each expert's rows lie in a slab for one forward: the tokens per expert on the host ({@code counts}), or
 * their prefix sums in backend memory ({@code offsets}, from {@link Backend#routeExperts}); exactly one is set. Runs
 * the grouped GEMMs with whichever it holds.
 */
record ExpertRows(int[] counts, SlabOffsets offsets) {

    static ExpertRows onHost(int[] counts) {
        return new ExpertRows(counts, null);
    }

    static ExpertRows inBackend(SlabOffsets offsets) {
        return new ExpertRows(null, offsets);
    }

    /** The rows of all experts together. */
    long total() {
        if (offsets != null) {
            return offsets.rows();
        }
        long rows = 0;
        for (int c : counts) {
            rows += c;
        }
        return rows;
    }

    void nt(Backend backend, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        if (offsets != null) {
            backend.groupedMatmulNT(offsets, n, k, a, w, c, accumulate);
        } else {
            backend.groupedMatmulNT(counts, n, k, a, w, c, accumulate);
        }
    }

    void nn(Backend backend, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        if (offsets != null) {
            backend.groupedMatmulNN(offsets, n, k, a, w, c, accumulate);
        } else {
            backend.groupedMatmulNN(counts, n, k, a, w, c, accumulate);
        }
    }

    void tn(Backend backend, int n, int k, Tensor a, Tensor b, Tensor dw, boolean accumulate) {
        if (offsets != null) {
            backend.groupedMatmulTN(offsets, n, k, a, b, dw, accumulate);
        } else {
            backend.groupedMatmulTN(counts, n, k, a, b, dw, accumulate);
        }
    }
}
