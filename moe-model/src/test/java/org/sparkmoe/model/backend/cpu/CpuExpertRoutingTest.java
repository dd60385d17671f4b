package org.sparkmoe.model.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.SlabOffsets;
import org.sparkmoe.model.backend.Tensor;

/**
 * The CPU backend's {@code routeExperts} against its {@code expertCounts}: the same slots, offsets that are the
 * counts' prefix sums, loads that accumulate; and the grouped GEMMs over those offsets equal those over the counts.
 */
class CpuExpertRoutingTest {

    @Test
    void routeExpertsEqualsExpertCountsAndFeedsTheGroupedGemms() {
        try (CpuBackend backend = new CpuBackend(2)) {
            assertTrue(backend.routesOnDevice());
            SplittableRandom random = new SplittableRandom(7);
            int rows = 97, k = 3, experts = 13, n = rows * k, width = 8, dim = 16;
            int[] choices = new int[n];
            for (int a = 0; a < n; a++) {
                choices[a] = random.nextInt(experts - 2);
            }
            Tensor idx = backend.allocate("idx", DType.I32, n);
            backend.uploadInts(choices, 0, idx, 0, n);
            Tensor hostSlot = backend.allocate("host slot", DType.I32, n);
            int[] counts = backend.expertCounts(idx, hostSlot, rows, k, experts);
            Tensor slot = backend.allocate("slot", DType.I32, n);
            Tensor offsets = backend.allocate("offsets", DType.I32, experts + 1);
            Tensor load = backend.allocate("load", DType.I32, experts);
            backend.routeExperts(idx, slot, offsets, load, rows, k, experts);
            backend.routeExperts(idx, slot, offsets, load, rows, k, experts);
            assertArrayEquals(ints(backend, hostSlot, n), ints(backend, slot, n), "slots");
            int[] expectedOffsets = new int[experts + 1];
            int[] twice = new int[experts];
            for (int e = 0; e < experts; e++) {
                expectedOffsets[e + 1] = expectedOffsets[e] + counts[e];
                twice[e] = 2 * counts[e];
            }
            assertArrayEquals(expectedOffsets, ints(backend, offsets, experts + 1), "offsets");
            assertArrayEquals(twice, ints(backend, load, experts), "loads after two routings");

            Tensor a = input(backend, random, (long) n * dim);
            Tensor w = input(backend, random, (long) experts * width * dim);
            Tensor byCounts = backend.allocate("c counts", DType.F32, (long) n * width);
            Tensor byOffsets = backend.allocate("c offsets", DType.F32, (long) n * width);
            backend.groupedMatmulNT(counts, width, dim, a, w, byCounts, false);
            backend.groupedMatmulNT(new SlabOffsets(offsets, experts, n), width, dim, a, w, byOffsets, false);
            float[] x = new float[n * width];
            float[] y = new float[n * width];
            backend.download(byCounts, 0, x, 0, x.length);
            backend.download(byOffsets, 0, y, 0, y.length);
            assertArrayEquals(x, y, "grouped forward over offsets");
        }
    }

    private static Tensor input(CpuBackend backend, SplittableRandom random, long elements) {
        float[] values = new float[(int) elements];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        Tensor t = backend.allocate("input", DType.F32, elements);
        backend.upload(values, 0, t, 0, values.length);
        return t;
    }

    private static int[] ints(CpuBackend backend, Tensor t, int n) {
        int[] out = new int[n];
        backend.downloadInts(t, 0, out, 0, n);
        return out;
    }
}
