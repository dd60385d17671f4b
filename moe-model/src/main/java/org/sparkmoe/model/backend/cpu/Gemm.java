package org.sparkmoe.model.backend.cpu;

import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.MR;
import static org.sparkmoe.model.backend.cpu.GemmMicroKernel.NR;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * fp32 GEMM on row-major fp32 {@link MemorySegment}s (usually off-heap tensors; offsets are in floats and
 * {@code long}, so an operand may sit anywhere in an arena of more than 2^31 elements) with leading dimensions: the
 * three cases that a linear layer's forward and backward need.
 *
 * <p>Legend: {@code M, N, K} are the GEMM dimensions; a suffix such as {@code _MK} names the stored shape of a
 * row-major operand (rows first). A leading dimension ({@code lda}, {@code ldb}, {@code ldc}) is the distance in
 * floats between two stored rows, at least the stored row length. {@code accumulate=false} overwrites C,
 * {@code true} adds to it (gradient accumulation). C must not overlap A or B.
 *
 * <p>Paths: products with M or N equal to 1, or under {@link #SMALL_FLOPS} multiply-adds, run unpacked
 * ({@link SmallGemm}); all others run the packed, cache-blocked {@link PackedGemm} with a register-blocked
 * Vector API micro-kernel, split over the {@link CpuThreadPool#shared() shared pool} along M or N. The chosen
 * path and vector species are logged once.
 */
public final class Gemm {
    /** Below this many multiply-adds (M·N·K), packing costs more than it saves. */
    static final long SMALL_FLOPS = 32L * 32 * 32;
    /** Each thread gets at least this many multiply-adds (~50 µs), so that handing work over stays cheap. */
    static final long MIN_FLOPS_PER_THREAD = 1L << 22;

    private static final String KERNEL_PATH = CpuVectors.describeAndWarn("GEMM: packed " + MR + "x" + NR
            + " outer-product micro-kernel, blocks MC=" + PackedGemm.MC + " KC=" + PackedGemm.KC
            + " NC=" + PackedGemm.NC + "; unpacked for matrix-vector and tiny products");

    private Gemm() {}

    /** C_MN (+)= A_MK · B_KN. */
    public static void nn(int m, int n, int k, MemorySegment a, long aOff, int lda, MemorySegment b, long bOff,
                          int ldb, MemorySegment c, long cOff, int ldc, boolean accumulate) {
        run(CpuThreadPool.shared(), GemmCase.NN, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
    }

    /** C_MN (+)= A_MK · B_NK^T (x · Wᵀ with W stored [out, in] as nn.Linear). */
    public static void nt(int m, int n, int k, MemorySegment a, long aOff, int lda, MemorySegment b, long bOff,
                          int ldb, MemorySegment c, long cOff, int ldc, boolean accumulate) {
        run(CpuThreadPool.shared(), GemmCase.NT, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
    }

    /** C_MN (+)= A_KM^T · B_KN (weight gradients: dW = dYᵀ · X). */
    public static void tn(int m, int n, int k, MemorySegment a, long aOff, int lda, MemorySegment b, long bOff,
                          int ldb, MemorySegment c, long cOff, int ldc, boolean accumulate) {
        run(CpuThreadPool.shared(), GemmCase.TN, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
    }

    /** The general entry point: any case, on a pool of the caller's choice (for example {@link CpuThreadPool#serial()}). */
    public static void run(CpuThreadPool pool, GemmCase gemmCase, int m, int n, int k,
                           MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                           MemorySegment c, long cOff, int ldc, boolean accumulate) {
        Objects.requireNonNull(pool, "pool");
        validate(gemmCase, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0) {
            if (!accumulate) {
                for (int i = 0; i < m; i++) c.asSlice(4 * (cOff + (long) i * ldc), 4L * n).fill((byte) 0);
            }
            return;
        }
        long flops = (long) m * n * k;
        if (m == 1 || n == 1 || flops <= SMALL_FLOPS) {
            SmallGemm.multiply(gemmCase, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
            return;
        }
        int parts = (int) Math.min(pool.threads(), Math.max(1, flops / MIN_FLOPS_PER_THREAD));
        if (parts == 1) {
            PackedGemm.multiply(gemmCase, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, accumulate);
        } else if (m >= n) {
            // Split rows: each thread packs all of B once per block, and A only for its rows.
            int chunk = roundUp(ceilDiv(m, parts), MR);
            pool.forEach(ceilDiv(m, chunk), part -> {
                int i0 = part * chunk;
                long aStart = aOff + (gemmCase.aTransposed() ? i0 : (long) i0 * lda);
                PackedGemm.multiply(gemmCase, Math.min(chunk, m - i0), n, k, a, aStart, lda, b, bOff, ldb,
                        c, cOff + (long) i0 * ldc, ldc, accumulate);
            });
        } else {
            int chunk = roundUp(ceilDiv(n, parts), NR);
            pool.forEach(ceilDiv(n, chunk), part -> {
                int j0 = part * chunk;
                long bStart = bOff + (gemmCase.bTransposed() ? (long) j0 * ldb : j0);
                PackedGemm.multiply(gemmCase, m, Math.min(chunk, n - j0), k, a, aOff, lda, b, bStart, ldb,
                        c, cOff + j0, ldc, accumulate);
            });
        }
    }

    /** The kernel path and vector species in use, as logged at start. */
    public static String kernelPath() {
        return KERNEL_PATH;
    }

    private static void validate(GemmCase gemmCase, int m, int n, int k, MemorySegment a, long aOff, int lda,
                                 MemorySegment b, long bOff, int ldb, MemorySegment c, long cOff, int ldc) {
        Objects.requireNonNull(gemmCase, "gemmCase");
        String call = "Gemm." + gemmCase.name().toLowerCase() + "(m=" + m + ", n=" + n + ", k=" + k + ")";
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException(call + ": dimensions must not be negative");
        }
        long aEnd = checkOperand(call, "A", a, aOff, lda, "lda", gemmCase.aTransposed() ? k : m,
                gemmCase.aTransposed() ? m : k);
        long bEnd = checkOperand(call, "B", b, bOff, ldb, "ldb", gemmCase.bTransposed() ? n : k,
                gemmCase.bTransposed() ? k : n);
        long cEnd = checkOperand(call, "C", c, cOff, ldc, "ldc", m, n);
        if (cEnd > cOff) {
            MemorySegment cRegion = region(c, cOff, cEnd);
            boolean overA = aEnd > aOff && cRegion.asOverlappingSlice(region(a, aOff, aEnd)).isPresent();
            boolean overB = bEnd > bOff && cRegion.asOverlappingSlice(region(b, bOff, bEnd)).isPresent();
            if (overA || overB) {
                throw new IllegalArgumentException(call + ": C overlaps " + (overA ? "A" : "B")
                        + " in memory; the product would overwrite its own input, so write C to a separate region");
            }
        }
    }

    /** Checks one operand stored rows×cols and returns the end (exclusive) of the region it spans. */
    private static long checkOperand(String call, String name, MemorySegment x, long off, int ld, String ldName,
                                     int rows, int cols) {
        Objects.requireNonNull(x, () -> call + ": operand " + name + " is null");
        if (off < 0) throw new IllegalArgumentException(call + ": offset of " + name + " is negative (" + off + ")");
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException(call + ": " + ldName + "=" + ld + " is smaller than the row length "
                    + cols + " of " + name + " (stored " + rows + "x" + cols + ")");
        }
        if (rows == 0 || cols == 0) return off;
        long end = off + (long) (rows - 1) * ld + cols;
        long length = x.byteSize() / JAVA_FLOAT.byteSize();
        if (end > length) {
            throw new IllegalArgumentException(call + ": " + name + " (stored " + rows + "x" + cols + " at offset "
                    + off + ", " + ldName + "=" + ld + ") needs " + end + " floats but its segment holds " + length);
        }
        return end;
    }

    private static MemorySegment region(MemorySegment x, long start, long end) {
        return x.asSlice(4 * start, 4 * (end - start));
    }

    private static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    private static int roundUp(int x, int multiple) {
        return ceilDiv(x, multiple) * multiple;
    }
}
