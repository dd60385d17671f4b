package org.sparkmoe.model.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Grouped GEMMs over per-expert slabs against a float64 reference computed group by group, with empty groups,
 * uneven sizes, offsets and accumulation; and the same bits whether groups run on one thread or spread over three.
 */
class GroupedGemmTest {
    /** Uneven slabs with empty groups, as top-K routing produces them; 9 groups spread over a 3-thread pool. */
    private static final int[] ROWS_G = {37, 0, 5, 120, 1, 0, 64, 13, 200};
    private static final int N = 48;
    private static final int K = 70;
    private static final int OFF = 3;

    @Test
    void forwardMatchesReference() {
        check("nt", ROWS_G, false);
        check("nt", ROWS_G, true);
    }

    @Test
    void inputGradientMatchesReference() {
        check("nn", ROWS_G, false);
        check("nn", new int[] {300, 2}, true);
    }

    @Test
    void weightGradientMatchesReferenceAndZeroesEmptyGroups() {
        check("tn", ROWS_G, false);
        check("tn", ROWS_G, true);
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() {
        for (String op : new String[] {"nt", "nn", "tn"}) {
            SplittableRandom random = new SplittableRandom(11);
            Operands one = Operands.random(op, ROWS_G, random);
            Operands three = one.copy();
            run(op, CpuThreadPool.serial(), ROWS_G, one, false);
            try (CpuThreadPool pool = CpuThreadPool.create(3)) {
                run(op, pool, ROWS_G, three, false);
            }
            assertArrayEquals(one.out, three.out, op + ": one thread and three threads differ");
        }
    }

    @Test
    void wrongGroupSizesAreRefused() {
        float[] a = new float[10 * K], w = new float[2 * N * K], c = new float[10 * N];
        IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class,
                () -> GroupedGemm.nt(CpuThreadPool.serial(), new int[] {6, 6}, N, K, seg(a), 0, seg(w), 0, seg(c), 0, false));
        assertTrue(tooMany.getMessage().contains("a_RK needs 840 floats"), tooMany.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> GroupedGemm.nt(CpuThreadPool.serial(), new int[] {6, -1}, N, K, seg(a), 0, seg(w), 0, seg(c), 0, false));
        assertTrue(negative.getMessage().contains("rows_G[1]=-1"), negative.getMessage());
    }

    /** The inputs and output of one grouped op; {@code in2} is the weights (nt, nn) or the second slab (tn). */
    private record Operands(float[] in1, float[] in2, float[] out) {
        static Operands random(String op, int[] rows_G, SplittableRandom random) {
            int rows = 0;
            for (int r : rows_G) rows += r;
            int groups = rows_G.length;
            return switch (op) {
                case "nt" -> new Operands(array(OFF + rows * K, random), array(OFF + groups * N * K, random),
                        array(OFF + rows * N, random));
                case "nn" -> new Operands(array(OFF + rows * N, random), array(OFF + groups * N * K, random),
                        array(OFF + rows * K, random));
                default -> new Operands(array(OFF + rows * N, random), array(OFF + rows * K, random),
                        array(OFF + groups * N * K, random));
            };
        }

        Operands copy() {
            return new Operands(in1.clone(), in2.clone(), out.clone());
        }
    }

    private static void run(String op, CpuThreadPool pool, int[] rows_G, Operands x, boolean accumulate) {
        switch (op) {
            case "nt" -> GroupedGemm.nt(pool, rows_G, N, K, seg(x.in1), OFF, seg(x.in2), OFF, seg(x.out), OFF, accumulate);
            case "nn" -> GroupedGemm.nn(pool, rows_G, N, K, seg(x.in1), OFF, seg(x.in2), OFF, seg(x.out), OFF, accumulate);
            default -> GroupedGemm.tn(pool, rows_G, N, K, seg(x.in1), OFF, seg(x.in2), OFF, seg(x.out), OFF, accumulate);
        }
    }

    private static void check(String op, int[] rows_G, boolean accumulate) {
        SplittableRandom random = new SplittableRandom(op.hashCode() + (accumulate ? 1 : 0));
        Operands x = Operands.random(op, rows_G, random);
        float[] before = x.out.clone();
        try (CpuThreadPool pool = CpuThreadPool.create(3)) {
            run(op, pool, rows_G, x, accumulate);
        }
        int groupStart = 0;
        for (int group = 0; group < rows_G.length; group++) {
            int g = group;
            int rows = rows_G[g];
            int start = groupStart;
            switch (op) {
                // out[start+r, j] = Σ_p in1[start+r, p] · w_g[j, p]
                case "nt" -> compare(op, g, rows, N, K, (r, j, p) -> (double) x.in1[OFF + (start + r) * K + p]
                        * x.in2[OFF + g * N * K + j * K + p], x.out, before, OFF + start * N, accumulate);
                // out[start+r, j] = Σ_p in1[start+r, p] · w_g[p, j]
                case "nn" -> compare(op, g, rows, K, N, (r, j, p) -> (double) x.in1[OFF + (start + r) * N + p]
                        * x.in2[OFF + g * N * K + p * K + j], x.out, before, OFF + start * K, accumulate);
                // out_g[i, j] = Σ_r in1[start+r, i] · in2[start+r, j]
                default -> compare(op, g, N, K, rows, (i, j, r) -> (double) x.in1[OFF + (start + r) * N + i]
                        * x.in2[OFF + (start + r) * K + j], x.out, before, OFF + g * N * K, accumulate);
            }
            groupStart += rows;
        }
    }

    @FunctionalInterface
    private interface Term {
        double at(int i, int j, int p);
    }

    /** Checks out[i, j] (row length cols, at outOff) against before (if accumulating) + Σ_p term(i, j, p). */
    private static void compare(String op, int g, int rowCount, int cols, int depth, Term term, float[] out,
                                float[] before, int outOff, boolean accumulate) {
        for (int i = 0; i < rowCount; i++) {
            for (int j = 0; j < cols; j++) {
                int idx = outOff + i * cols + j;
                double sum = accumulate ? before[idx] : 0, abs = Math.abs(sum);
                for (int p = 0; p < depth; p++) {
                    double t = term.at(i, j, p);
                    sum += t;
                    abs += Math.abs(t);
                }
                if (!(Math.abs(out[idx] - sum) <= (depth + 2) * 0x1p-23 * abs + 1e-30)) {
                    fail(op + " group " + g + " [" + i + "," + j + "] = " + out[idx] + ", expected " + sum);
                }
            }
        }
    }

    private static MemorySegment seg(float[] values) {
        return MemorySegment.ofArray(values);
    }

    private static float[] array(int length, SplittableRandom random) {
        float[] values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float) (random.nextDouble() * 2 - 1);
        return values;
    }
}
