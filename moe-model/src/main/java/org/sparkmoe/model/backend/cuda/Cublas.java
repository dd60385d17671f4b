package org.sparkmoe.model.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;
import java.util.Optional;

/**
 * FFM bindings to cuBLAS: bf16 and fp32 GEMMs with fp32 accumulation
 * ({@code CUBLAS_COMPUTE_32F}, so fp32 GEMMs stay true fp32, no TF32), strided batched, pointer-array batched and
 * grouped ({@code cublasGemmGroupedBatchedEx}, one group per expert with its own row count).
 *
 * <p>All entry points here are row-major: {@code C_MN = alpha * op(A) * op(B) + beta * C_MN}, and are mapped onto
 * cuBLAS's column-major convention by computing {@code C^T = op(B)^T op(A)^T}.
 */
public final class Cublas implements AutoCloseable {

    private static final int CUBLAS_OP_N = 0;
    private static final int CUBLAS_OP_T = 1;

    /**
     * The compute types we use: {@code F32} (fp32 accumulation, operands as given; fp32 stays true fp32) and
     * {@code F32_FAST_BF16} (fp32 operands and output, which cuBLAS may round to bf16 inside its tensor-core kernels).
     */
    public enum Compute {
        F32(68),
        F32_FAST_BF16(75);

        final int cublasValue;

        Compute(int cublasValue) {
            this.cublasValue = cublasValue;
        }
    }

    private static final int CUBLAS_GEMM_DEFAULT = -1;

    private final NativeLibrary lib;
    private final MethodHandle cublasGetStatusString;
    private final MethodHandle cublasDestroy;
    private final MethodHandle cublasGemmEx;
    private final MethodHandle cublasGemmStridedBatchedEx;
    private final Optional<MethodHandle> cublasGemmGroupedBatchedEx;
    private final MemorySegment handle;
    private final int version;
    private final Arena scalars = Arena.ofShared();
    private final MemorySegment one;
    private final MemorySegment zero;
    private final CallStats stats;

    private Cublas(NativeLibrary lib, MemorySegment stream, CallStats stats) {
        this.lib = lib;
        this.stats = stats;
        cublasGetStatusString = lib.function("cublasGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        MethodHandle create = fn("cublasCreate_v2", ADDRESS);
        cublasDestroy = fn("cublasDestroy_v2", ADDRESS);
        MethodHandle setStream = fn("cublasSetStream_v2", ADDRESS, ADDRESS);
        MethodHandle getVersion = fn("cublasGetVersion_v2", ADDRESS, ADDRESS);
        cublasGemmEx = fn("cublasGemmEx", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
                JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT);
        cublasGemmStridedBatchedEx = fn("cublasGemmStridedBatchedEx", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
                ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT);
        cublasGemmGroupedBatchedEx = lib.optionalFunction("cublasGemmGroupedBatchedEx", FunctionDescriptor.of(JAVA_INT,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG,
                JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
        one = scalars.allocateFrom(JAVA_FLOAT, 1f);
        zero = scalars.allocateFrom(JAVA_FLOAT, 0f);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check("cublasCreate_v2", (int) create.invokeExact(out));
            handle = out.get(ADDRESS, 0);
            check("cublasSetStream_v2", (int) setStream.invokeExact(handle, stream));
            MemorySegment v = arena.allocate(JAVA_INT);
            check("cublasGetVersion_v2", (int) getVersion.invokeExact(handle, v));
            version = v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    private MethodHandle fn(String symbol, MemoryLayout... args) {
        return lib.function(symbol, FunctionDescriptor.of(JAVA_INT, args));
    }

    /** Loads cuBLAS and creates a handle bound to {@code stream} (the current context must be set). */
    static Cublas create(CudaLibraries libraries, MemorySegment stream, CallStats stats) {
        return new Cublas(libraries.load(CudaLibraries.Library.CUBLAS), stream, stats);
    }

    /** cuBLAS version as major.minor.patch (from 13 on, {@code cublasGetVersion} packs major*10000+minor*100+patch). */
    public String version() {
        return (version / 10000) + "." + (version / 100 % 100) + "." + (version % 100);
    }

    public boolean hasGroupedGemm() {
        return cublasGemmGroupedBatchedEx.isPresent();
    }

    String libraryFile() {
        return lib.file().toString();
    }

    /**
     * Row-major {@code C_MN = alpha * op(A) op(B) + beta * C}, where op(A) is M x K and op(B) is K x N.
     * {@code lda/ldb/ldc} are row strides in elements of the matrices as stored.
     */
    public void gemm(ElementType inType, ElementType outType, boolean transA, boolean transB, int m, int n, int k,
            float alpha, long a, int lda, long b, int ldb, float beta, long c, int ldc) {
        stats.gemms++;
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) cublasGemmEx.invokeExact(handle, op(transB), op(transA), n, m, k,
                    scalar(arena, alpha), b, inType.cudaDataType, ldb, a, inType.cudaDataType, lda,
                    scalar(arena, beta), c, outType.cudaDataType, ldc, Compute.F32.cublasValue, CUBLAS_GEMM_DEFAULT);
            if (rc != 0) {
                throw failed("cublasGemmEx(" + shape(transA, transB, m, n, k) + ", " + inType + "->" + outType + ")",
                        rc);
            }
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** {@link #gemm} over {@code batch} matrices at fixed element strides (attention heads, equal-sized experts). */
    public void gemmStridedBatched(ElementType inType, ElementType outType, boolean transA, boolean transB, int m, int n, int k,
            float alpha, long a, int lda, long strideA, long b, int ldb, long strideB, float beta, long c, int ldc,
            long strideC, int batch) {
        stats.gemms++;
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) cublasGemmStridedBatchedEx.invokeExact(handle, op(transB), op(transA), n, m, k,
                    scalar(arena, alpha), b, inType.cudaDataType, ldb, strideB, a, inType.cudaDataType, lda, strideA,
                    scalar(arena, beta), c, outType.cudaDataType, ldc, strideC, batch, Compute.F32.cublasValue,
                    CUBLAS_GEMM_DEFAULT);
            if (rc != 0) {
                throw failed("cublasGemmStridedBatchedEx(" + shape(transA, transB, m, n, k) + " x" + batch + ")", rc);
            }
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /**
     * Grouped GEMM: group g computes row-major {@code C (m[g] x n[g]) = op(A) op(B) + beta C} over inner dimension
     * {@code k[g]} for each of its {@code groupSizes[g]} problems, as the experts' slabs of sorted tokens need (rows
     * per expert vary; for weight gradients the inner dimension varies). {@code aPointers/bPointers/cPointers} are
     * device arrays of device pointers, one per problem, group after group; leading dimensions are the same for every
     * problem. cuBLAS may run each group as its own batched kernel, so problems of one shape belong in one group.
     * Problems of size zero must be left out by the caller.
     */
    public void gemmGrouped(ElementType inType, ElementType outType, boolean transA, boolean transB, int[] m, int[] n,
            int[] k, int[] groupSizes, float beta, long aPointers, int lda, long bPointers, int ldb, long cPointers,
            int ldc) {
        gemmGrouped(inType, outType, Compute.F32, transA, transB, m, n, k, groupSizes, beta, aPointers, lda, bPointers,
                ldb, cPointers, ldc);
    }

    /** {@link #gemmGrouped} with a chosen compute type and one problem per group. */
    public void gemmGrouped(ElementType inType, ElementType outType, Compute compute, boolean transA, boolean transB,
            int[] m, int[] n, int[] k, float beta, long aPointers, int lda, long bPointers, int ldb, long cPointers,
            int ldc) {
        int[] ones = new int[m.length];
        Arrays.fill(ones, 1);
        gemmGrouped(inType, outType, compute, transA, transB, m, n, k, ones, beta, aPointers, lda, bPointers, ldb,
                cPointers, ldc);
    }

    /** {@link #gemmGrouped} with a chosen compute type. */
    public void gemmGrouped(ElementType inType, ElementType outType, Compute compute, boolean transA, boolean transB,
            int[] m, int[] n, int[] k, int[] groupSizes, float beta, long aPointers, int lda, long bPointers, int ldb,
            long cPointers, int ldc) {
        stats.gemms++;
        MethodHandle grouped = cublasGemmGroupedBatchedEx.orElseThrow(() -> new CudaException(
                "cuBLAS " + version() + " has no cublasGemmGroupedBatchedEx; GroupedGemm falls back to one GEMM per group"));
        int groups = m.length;
        if (n.length != groups || k.length != groups || groupSizes.length != groups) {
            throw new IllegalArgumentException("grouped GEMM needs m, n, k and group sizes of one length, got "
                    + groups + ", " + n.length + ", " + k.length + ", " + groupSizes.length);
        }
        int problems = Arrays.stream(groupSizes).sum();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment alphas = arena.allocate(JAVA_FLOAT, groups);
            MemorySegment betas = arena.allocate(JAVA_FLOAT, groups);
            for (int g = 0; g < groups; g++) {
                alphas.setAtIndex(JAVA_FLOAT, g, 1f);
                betas.setAtIndex(JAVA_FLOAT, g, beta);
            }
            int rc = (int) grouped.invokeExact(handle, filled(arena, groups, op(transB)), filled(arena, groups, op(transA)),
                    arena.allocateFrom(JAVA_INT, n), arena.allocateFrom(JAVA_INT, m), arena.allocateFrom(JAVA_INT, k),
                    alphas, bPointers, inType.cudaDataType, filled(arena, groups, ldb), aPointers, inType.cudaDataType,
                    filled(arena, groups, lda), betas, cPointers, outType.cudaDataType, filled(arena, groups, ldc), groups,
                    arena.allocateFrom(JAVA_INT, groupSizes), compute.cublasValue);
            if (rc != 0) {
                throw failed("cublasGemmGroupedBatchedEx(" + problems + " problems in " + groups + " groups, " + inType
                        + "->" + outType + ", " + compute + ")", rc);
            }
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    private static MemorySegment filled(Arena arena, int count, int value) {
        MemorySegment s = arena.allocate(JAVA_INT, count);
        for (int i = 0; i < count; i++) {
            s.setAtIndex(JAVA_INT, i, value);
        }
        return s;
    }

    private MemorySegment scalar(Arena arena, float value) {
        if (value == 1f) {
            return one;
        }
        if (value == 0f) {
            return zero;
        }
        return arena.allocateFrom(JAVA_FLOAT, value);
    }

    private static int op(boolean transpose) {
        return transpose ? CUBLAS_OP_T : CUBLAS_OP_N;
    }

    private static String shape(boolean transA, boolean transB, int m, int n, int k) {
        return (transA ? "T" : "N") + (transB ? "T" : "N") + " m=" + m + " n=" + n + " k=" + k;
    }

    private String statusString(int status) {
        try {
            return NativeLibrary.cString((MemorySegment) cublasGetStatusString.invokeExact(status));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    private void check(String call, int status) {
        if (status != 0) {
            throw failed(call, status);
        }
    }

    /** The error for a failed call; GEMMs build their call's description only then (thousands of calls a step). */
    private CudaException failed(String call, int status) {
        return CudaException.callFailed("cuBLAS", call, status, statusString(status));
    }

    @Override
    public void close() {
        try {
            check("cublasDestroy_v2", (int) cublasDestroy.invokeExact(handle));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        } finally {
            scalars.close();
        }
    }
}
