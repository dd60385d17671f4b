package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The split of grouped weight gradients along their inner dimension: every row of every problem in exactly one
 * chunk, chunks of one length but each problem's last, the partial count bounded, and no split where the outputs are
 * large or the inner dimensions short.
 */
class SplitKTest {

    private static final int H200_MULTIPROCESSORS = 132;

    /** Problems of one output shape over these inner dimensions (addresses do not matter to the plan). */
    private static List<GroupedGemm.Problem> problems(int m, int n, int[] k) {
        List<GroupedGemm.Problem> problems = new ArrayList<>();
        for (int rows : k) {
            problems.add(new GroupedGemm.Problem(m, n, rows, 0, 0, 0));
        }
        return problems;
    }

    /** DeepSeekMoE-like inner dimensions: 63 experts around 1,560 rows, a few far off, one under a chunk. */
    private static int[] fineGrainedRows() {
        Random random = new Random(63);
        int[] k = new int[63];
        for (int g = 0; g < k.length; g++) {
            k[g] = 1_000 + random.nextInt(1_200);
        }
        k[5] = 1;
        k[17] = 57;
        k[40] = 3_900;
        return k;
    }

    private static void assertCoversEveryRowOnce(List<GroupedGemm.Problem> problems, SplitK split) {
        for (int p = 0; p < problems.size(); p++) {
            int chunks = split.chunks(p);
            assertTrue(chunks >= 1 && chunks <= split.partials(), "problem " + p + ": " + chunks + " chunks, "
                    + split.partials() + " partials");
            assertEquals(0, split.start(p, 0), "problem " + p + " starts at row 0");
            assertEquals(problems.get(p).k(), split.start(p, chunks), "problem " + p + " ends at its last row");
            for (int c = 0; c < chunks; c++) {
                assertTrue(split.start(p, c + 1) > split.start(p, c), "problem " + p + " chunk " + c + " is empty");
            }
        }
    }

    @Test
    void fineGrainedExpertsSplitIntoChunksOfOneLength() {
        List<GroupedGemm.Problem> problems = problems(176, 256, fineGrainedRows());
        SplitK split = SplitK.plan(problems, H200_MULTIPROCESSORS);
        assertTrue(split.partials() > 1 && split.partials() <= SplitK.MAX_PARTIALS, split.toString());
        assertCoversEveryRowOnce(problems, split);
        Set<Integer> fullLengths = new HashSet<>();
        int chunks = 0;
        for (int p = 0; p < problems.size(); p++) {
            chunks += split.chunks(p);
            for (int c = 0; c + 1 < split.chunks(p); c++) {
                fullLengths.add(split.start(p, c + 1) - split.start(p, c));
            }
            int last = split.start(p, split.chunks(p)) - split.start(p, split.chunks(p) - 1);
            assertTrue(fullLengths.isEmpty() || last <= fullLengths.iterator().next(), "problem " + p
                    + "'s last chunk of " + last + " rows is longer than a chunk: " + split);
        }
        assertEquals(1, fullLengths.size(), "all chunks but each problem's last have one length: " + split);
        assertTrue(fullLengths.iterator().next() >= SplitK.MIN_CHUNK, split.toString());
        assertTrue(chunks * 3 > 2 * H200_MULTIPROCESSORS, "3 tiles a chunk fill the GPU: " + chunks + " chunks");
        assertEquals(1, split.chunks(5), "a one-row expert stays one chunk");
        assertEquals(1, split.chunks(17), "an expert under one chunk stays one chunk");
    }

    @Test
    void oneVeryLongExpertIsCappedAtTheMostPartials() {
        int[] k = fineGrainedRows();
        k[3] = 100_000;
        List<GroupedGemm.Problem> problems = problems(256, 176, k);
        SplitK split = SplitK.plan(problems, H200_MULTIPROCESSORS);
        assertEquals(SplitK.MAX_PARTIALS, split.partials(), split.toString());
        assertEquals(SplitK.MAX_PARTIALS, split.chunks(3), split.toString());
        assertCoversEveryRowOnce(problems, split);
    }

    @Test
    void largeOutputsAreNotSplit() {
        List<GroupedGemm.Problem> problems = problems(704, 256, new int[] {6_000, 6_200, 5_800, 6_100});
        SplitK split = SplitK.plan(problems, H200_MULTIPROCESSORS);
        assertEquals(1, split.partials());
        assertCoversEveryRowOnce(problems, split);
        assertEquals(1, SplitK.maxPartials(704L * 256));
    }

    @Test
    void shortInnerDimensionsAreNotSplit() {
        int[] k = new int[63];
        Arrays.fill(k, 100);
        List<GroupedGemm.Problem> problems = problems(176, 256, k);
        SplitK split = SplitK.plan(problems, H200_MULTIPROCESSORS);
        assertEquals(1, split.partials(), split.toString());
        assertCoversEveryRowOnce(problems, split);
    }

    @Test
    void aGpuWithoutMultiprocessorsIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> SplitK.plan(problems(176, 256, new int[] {500}), 0));
    }
}
