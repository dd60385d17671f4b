package org.sparkmoe.model.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * GEMMs over contiguous per-expert slabs, the MoE data path: tokens sorted by expert form one slab per group
 * (group g owns rows {@code [o_g, o_g + rows_G[g])}, {@code o_g} the prefix sum), and every group has its own
 * weight matrix, stacked as {@code w_GNK} (one {@code [n, k]} matrix per group, as {@code nn.Linear} stores it).
 * All operands are contiguous (leading dimension = row length) and start at the given offsets.
 *
 * <p>Legend: G groups, R = Σ rows_G total rows, N the weight's out dimension, K its in dimension.
 *
 * <p>Threads: with at least two groups per thread, whole groups are spread over the pool (largest first, each to
 * the least-loaded thread), so small slabs pay no split overhead; with fewer, each group's GEMM is split instead.
 * Either way every element is summed in the same order, so results do not depend on the thread count.
 */
public final class GroupedGemm {
    private GroupedGemm() {}

    /** Forward: {@code c_RN[o_g..] (+)= a_RK[o_g..] · w_GNK[g]ᵀ} for every group g. */
    public static void nt(CpuThreadPool pool, int[] rows_G, int n, int k, MemorySegment a, long aOff,
                          MemorySegment w, long wOff, MemorySegment c, long cOff, boolean accumulate) {
        long[] start_G = starts("nt", rows_G);
        long rows = total(rows_G);
        checkFits("nt", "a_RK", a, aOff, rows * k);
        checkFits("nt", "w_GNK", w, wOff, (long) rows_G.length * n * k);
        checkFits("nt", "c_RN", c, cOff, rows * n);
        schedule(pool, rows_G, false, (gemmPool, g) -> Gemm.run(gemmPool, GemmCase.NT, rows_G[g], n, k,
                a, aOff + start_G[g] * k, k, w, wOff + (long) g * n * k, k, c, cOff + start_G[g] * n, n, accumulate));
    }

    /** Input gradient: {@code c_RK[o_g..] (+)= a_RN[o_g..] · w_GNK[g]} for every group g. */
    public static void nn(CpuThreadPool pool, int[] rows_G, int n, int k, MemorySegment a, long aOff,
                          MemorySegment w, long wOff, MemorySegment c, long cOff, boolean accumulate) {
        long[] start_G = starts("nn", rows_G);
        long rows = total(rows_G);
        checkFits("nn", "a_RN", a, aOff, rows * n);
        checkFits("nn", "w_GNK", w, wOff, (long) rows_G.length * n * k);
        checkFits("nn", "c_RK", c, cOff, rows * k);
        schedule(pool, rows_G, false, (gemmPool, g) -> Gemm.run(gemmPool, GemmCase.NN, rows_G[g], k, n,
                a, aOff + start_G[g] * n, n, w, wOff + (long) g * n * k, k, c, cOff + start_G[g] * k, k, accumulate));
    }

    /**
     * Weight gradient: {@code dw_GNK[g] (+)= a_RN[o_g..]ᵀ · b_RK[o_g..]} for every group g; a group with no rows
     * gets a zero gradient (or keeps its value when accumulating).
     */
    public static void tn(CpuThreadPool pool, int[] rows_G, int n, int k, MemorySegment a, long aOff,
                          MemorySegment b, long bOff, MemorySegment dw, long dwOff, boolean accumulate) {
        long[] start_G = starts("tn", rows_G);
        long rows = total(rows_G);
        checkFits("tn", "a_RN", a, aOff, rows * n);
        checkFits("tn", "b_RK", b, bOff, rows * k);
        checkFits("tn", "dw_GNK", dw, dwOff, (long) rows_G.length * n * k);
        schedule(pool, rows_G, true, (gemmPool, g) -> Gemm.run(gemmPool, GemmCase.TN, n, k, rows_G[g],
                a, aOff + start_G[g] * n, n, b, bOff + start_G[g] * k, k, dw, dwOff + (long) g * n * k, k, accumulate));
    }

    /** One group's GEMM on the given pool. */
    @FunctionalInterface
    private interface GroupProduct {
        void run(CpuThreadPool pool, int g);
    }

    /** Runs every group (empty ones only if {@code includeEmpty}), spread over the pool as the class describes. */
    private static void schedule(CpuThreadPool pool, int[] rows_G, boolean includeEmpty, GroupProduct product) {
        Objects.requireNonNull(pool, "pool");
        List<Integer> busy = new ArrayList<>();
        for (int g = 0; g < rows_G.length; g++) {
            if (rows_G[g] > 0 || includeEmpty) busy.add(g);
        }
        int threads = pool.threads();
        if (threads == 1 || busy.size() < 2 * threads) {
            for (int g : busy) product.run(pool, g);
            return;
        }
        int[][] groupsOfPart = balance(busy, rows_G, threads);
        pool.forEach(threads, part -> {
            for (int g : groupsOfPart[part]) product.run(CpuThreadPool.serial(), g);
        });
    }

    /** Largest group first, each to the part with the fewest rows so far (ties: the lower part). */
    private static int[][] balance(List<Integer> busy, int[] rows_G, int parts) {
        Integer[] order = busy.toArray(Integer[]::new);
        Arrays.sort(order, (x, y) -> rows_G[y] != rows_G[x] ? Integer.compare(rows_G[y], rows_G[x]) : Integer.compare(x, y));
        long[] load = new long[parts];
        List<List<Integer>> assigned = new ArrayList<>();
        for (int part = 0; part < parts; part++) assigned.add(new ArrayList<>());
        for (int g : order) {
            int least = 0;
            for (int part = 1; part < parts; part++) if (load[part] < load[least]) least = part;
            load[least] += Math.max(1, rows_G[g]);
            assigned.get(least).add(g);
        }
        int[][] result = new int[parts][];
        for (int part = 0; part < parts; part++) {
            result[part] = assigned.get(part).stream().mapToInt(Integer::intValue).toArray();
        }
        return result;
    }

    /** Start row of every group (the prefix sums), refusing negative sizes. */
    private static long[] starts(String name, int[] rows_G) {
        Objects.requireNonNull(rows_G, "rows_G");
        long[] start_G = new long[rows_G.length];
        long total = 0;
        for (int g = 0; g < rows_G.length; g++) {
            if (rows_G[g] < 0) {
                throw new IllegalArgumentException("GroupedGemm." + name + ": rows_G[" + g + "]=" + rows_G[g]
                        + " is negative; group sizes are token counts");
            }
            start_G[g] = total;
            total += rows_G[g];
        }
        return start_G;
    }

    private static long total(int[] rows_G) {
        long total = 0;
        for (int rows : rows_G) total += rows;
        return total;
    }

    /** Catches a wrong group count or dimension before any group runs (Gemm then checks each group itself). */
    private static void checkFits(String name, String operand, MemorySegment x, long off, long floats) {
        Objects.requireNonNull(x, () -> "GroupedGemm." + name + ": " + operand + " is null");
        long length = x.byteSize() / 4;
        if (off < 0 || off + floats > length) {
            throw new IllegalArgumentException("GroupedGemm." + name + ": " + operand + " needs " + floats
                    + " floats from offset " + off + " but its segment holds " + length + "; check rows_G, n and k");
        }
    }
}
