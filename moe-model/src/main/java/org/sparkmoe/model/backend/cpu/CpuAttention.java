package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Causal multi-head attention on the CPU, one (batch, head) pair per task (disjoint outputs, so the parallel loop
 * is deterministic). Each task works in query blocks of {@link #BLOCK} rows: the scores of a block against the
 * keys up to its last row, the softmax, and the products with V are serial {@link Gemm} calls over the
 * head's strided rows (leading dimension H·Dh), so only the causal lower part is computed, packed and vectorised.
 * Backward recomputes the probabilities from the saved log-sum-exp instead of storing T×T per head. A task's
 * block scratch is off-heap like the tensors (one kind of segment at every GEMM call site).
 *
 * <p>Legend: q, k, v, out, dOut, dq, dk, dv are {@code [B, T, H, Dh]}; lse is {@code [B, H, T]}; s, p, dp are a
 * block's {@code [QB, T]} scratch.
 */
final class CpuAttention {

    /** Query rows per block: bounds the scratch (BLOCK·T floats) and the causal waste (half a block). */
    static final int BLOCK = 64;

    private CpuAttention() {
    }

    /** Bytes of block scratch one task holds at a time (backward's two blocks), for the memory estimate. */
    static long scratchBytes(int seqLen) {
        return 2L * BLOCK * seqLen * 4;
    }

    static void forward(MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out, MemorySegment lse,
                        int b, int t, int h, int dh, CpuPool pool) {
        float scale = (float) (1.0 / Math.sqrt(dh));
        int ld = h * dh;
        pool.parallelFor(b * h, bh -> {
            long head = (long) (bh / h) * t * ld + (long) (bh % h) * dh;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment s = arena.allocate(4L * BLOCK * t, 64);
                for (int i0 = 0; i0 < t; i0 += BLOCK) {
                    int rows = Math.min(BLOCK, t - i0);
                    int keys = i0 + rows;
                    Gemm.run(CpuThreadPool.serial(), GemmCase.NT, rows, keys, dh, q, head + (long) i0 * ld, ld, k,
                            head, ld, s, 0, keys, false);
                    for (int r = 0; r < rows; r++) {
                        long row = (long) r * keys;
                        int visible = i0 + r + 1;
                        float max = Float.NEGATIVE_INFINITY;
                        for (int j = 0; j < visible; j++) {
                            float x = s.getAtIndex(JAVA_FLOAT, row + j) * scale;
                            s.setAtIndex(JAVA_FLOAT, row + j, x);
                            max = Math.max(max, x);
                        }
                        double sum = 0;
                        for (int j = 0; j < visible; j++) {
                            float e = (float) Math.exp(s.getAtIndex(JAVA_FLOAT, row + j) - max);
                            s.setAtIndex(JAVA_FLOAT, row + j, e);
                            sum += e;
                        }
                        float inv = (float) (1.0 / sum);
                        for (int j = 0; j < visible; j++) {
                            s.setAtIndex(JAVA_FLOAT, row + j, s.getAtIndex(JAVA_FLOAT, row + j) * inv);
                        }
                        s.asSlice(4 * (row + visible), 4L * (keys - visible)).fill((byte) 0);
                        lse.setAtIndex(JAVA_FLOAT, (long) bh * t + i0 + r, max + (float) Math.log(sum));
                    }
                    Gemm.run(CpuThreadPool.serial(), GemmCase.NN, rows, dh, keys, s, 0, keys, v, head, ld, out,
                            head + (long) i0 * ld, ld, false);
                }
            }
        });
    }

    static void backward(MemorySegment dOut, MemorySegment q, MemorySegment k, MemorySegment v, MemorySegment out,
                         MemorySegment lse, MemorySegment dq, MemorySegment dk, MemorySegment dv, int b, int t, int h,
                         int dh, CpuPool pool) {
        float scale = (float) (1.0 / Math.sqrt(dh));
        int ld = h * dh;
        pool.parallelFor(b * h, bh -> {
            long head = (long) (bh / h) * t * ld + (long) (bh % h) * dh;
            for (int ti = 0; ti < t; ti++) {
                dk.asSlice(4 * (head + (long) ti * ld), 4L * dh).fill((byte) 0);
                dv.asSlice(4 * (head + (long) ti * ld), 4L * dh).fill((byte) 0);
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment p = arena.allocate(4L * BLOCK * t, 64);
                MemorySegment dp = arena.allocate(4L * BLOCK * t, 64);
                for (int i0 = 0; i0 < t; i0 += BLOCK) {
                    int rows = Math.min(BLOCK, t - i0);
                    int keys = i0 + rows;
                    long block = head + (long) i0 * ld;
                    Gemm.run(CpuThreadPool.serial(), GemmCase.NT, rows, keys, dh, q, block, ld, k, head, ld, p, 0,
                            keys, false);
                    Gemm.run(CpuThreadPool.serial(), GemmCase.NT, rows, keys, dh, dOut, block, ld, v, head, ld, dp, 0,
                            keys, false);
                    for (int r = 0; r < rows; r++) {
                        long row = (long) r * keys;
                        int visible = i0 + r + 1;
                        long qRow = head + (long) (i0 + r) * ld;
                        float rowLse = lse.getAtIndex(JAVA_FLOAT, (long) bh * t + i0 + r);
                        float delta = 0f;
                        for (int d = 0; d < dh; d++) {
                            delta += dOut.getAtIndex(JAVA_FLOAT, qRow + d) * out.getAtIndex(JAVA_FLOAT, qRow + d);
                        }
                        for (int j = 0; j < visible; j++) {
                            float prob = (float) Math.exp(p.getAtIndex(JAVA_FLOAT, row + j) * scale - rowLse);
                            p.setAtIndex(JAVA_FLOAT, row + j, prob);
                            dp.setAtIndex(JAVA_FLOAT, row + j, prob * (dp.getAtIndex(JAVA_FLOAT, row + j) - delta) * scale);
                        }
                        p.asSlice(4 * (row + visible), 4L * (keys - visible)).fill((byte) 0);
                        dp.asSlice(4 * (row + visible), 4L * (keys - visible)).fill((byte) 0);
                    }
                    // dq_block = dS · K;  dk += dSᵀ · q_block;  dv += Pᵀ · dOut_block
                    Gemm.run(CpuThreadPool.serial(), GemmCase.NN, rows, dh, keys, dp, 0, keys, k, head, ld, dq, block,
                            ld, false);
                    Gemm.run(CpuThreadPool.serial(), GemmCase.TN, keys, dh, rows, dp, 0, keys, q, block, ld, dk, head,
                            ld, true);
                    Gemm.run(CpuThreadPool.serial(), GemmCase.TN, keys, dh, rows, p, 0, keys, dOut, block, ld, dv, head,
                            ld, true);
                }
            }
        });
    }
}
