package org.sparkmoe.model.backend.cuda;

import java.util.Arrays;
import java.util.List;

/**
 * How a grouped weight-gradient product cuts each problem's inner dimension (the expert's token rows) into chunks,
 * each chunk its own GEMM writing its own partial output; the partials are summed afterwards.
 *
 * <p>Fine-grained experts have small outputs (DeepSeekMoE's 176 x 256 is 3 of cuBLAS's 64 x 256 tiles) over long
 * inner dimensions (about 1,500-2,000 rows), so cuBLAS runs each on 3-4 blocks of a 132-multiprocessor GPU. Chunks
 * of one fixed length give cuBLAS many problems of one shape (one batched group) with enough tiles to fill
 * {@value #WAVES} waves of the multiprocessors; a chunk keeps at least {@value #MIN_CHUNK} rows so each GEMM still
 * amortises its output write, and at most {@value #MAX_PARTIALS} partials bound the scratch (each partial is a bf16
 * copy of the output region). Outputs above {@value #SMALL_OUTPUT} elements already spread over the GPU and are not
 * split. The last chunk of a problem takes the rows left over, so each problem's rows are covered exactly once.
 */
final class SplitK {

    static final int SMALL_OUTPUT = 65_536;
    static final int MAX_PARTIALS = 8;
    static final int MIN_CHUNK = 128;
    static final int WAVES = 8;
    private static final int GRANULE = 64;
    private static final int TILE_M = 64;
    private static final int TILE_N = 256;

    private final int partials;
    private final int[][] starts;

    private SplitK(int partials, int[][] starts) {
        this.partials = partials;
        this.starts = starts;
    }

    /** The split of these problems on a GPU of {@code multiprocessors}: one chunk each when splitting does not pay. */
    static SplitK plan(List<GroupedGemm.Problem> problems, int multiprocessors) {
        if (multiprocessors <= 0) {
            throw new IllegalArgumentException("multiprocessors must be positive, got " + multiprocessors);
        }
        long work = 0;
        int maxK = 0;
        for (GroupedGemm.Problem p : problems) {
            if ((long) p.m() * p.n() > SMALL_OUTPUT) {
                return unsplit(problems);
            }
            work += (long) ceilDiv(p.m(), TILE_M) * ceilDiv(p.n(), TILE_N) * p.k();
            maxK = Math.max(maxK, p.k());
        }
        long chunk = roundUp(Math.max(MIN_CHUNK, ceilDiv(work, (long) WAVES * multiprocessors)));
        if (ceilDiv(maxK, chunk) > MAX_PARTIALS) {
            chunk = roundUp(ceilDiv(maxK, MAX_PARTIALS));
        }
        int partials = (int) ceilDiv(maxK, chunk);
        if (partials <= 1) {
            return unsplit(problems);
        }
        int[][] starts = new int[problems.size()][];
        for (int i = 0; i < starts.length; i++) {
            int k = problems.get(i).k();
            int chunks = (int) Math.max(1, ceilDiv(k, chunk));
            starts[i] = new int[chunks + 1];
            for (int c = 0; c < chunks; c++) {
                starts[i][c] = (int) (c * chunk);
            }
            starts[i][chunks] = k;
        }
        return new SplitK(partials, starts);
    }

    private static SplitK unsplit(List<GroupedGemm.Problem> problems) {
        return new SplitK(1, problems.stream().map(p -> new int[] {0, p.k()}).toArray(int[][]::new));
    }

    /** The most partials a product whose problems' outputs have {@code outputElements} each may use. */
    static int maxPartials(long outputElements) {
        return outputElements <= SMALL_OUTPUT ? MAX_PARTIALS : 1;
    }

    /** The number of partial outputs, 1 when nothing is split. */
    int partials() {
        return partials;
    }

    /** How many chunks problem {@code p} is cut into, at most {@link #partials()}. */
    int chunks(int p) {
        return starts[p].length - 1;
    }

    /** The first inner row of chunk {@code c} of problem {@code p}; {@code start(p, chunks(p))} is its k. */
    int start(int p, int c) {
        return starts[p][c];
    }

    @Override
    public String toString() {
        return partials + " partials, chunk starts " + Arrays.deepToString(starts);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private static long roundUp(long rows) {
        return ceilDiv(rows, GRANULE) * GRANULE;
    }
}
