package org.sparkmoe.model.backend.cpu.bench;

import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.sparkmoe.model.backend.cpu.CpuThreadPool;
import org.sparkmoe.model.backend.cpu.Gemm;
import org.sparkmoe.model.backend.cpu.GemmCase;

/**
 * Our {@link Gemm} (on off-heap segments, as the CPU backend's tensors are) against OpenBLAS's {@code cblas_sgemm}
 * (off-heap operands, its best case) on the training
 * shapes, on one and two threads. Each shape is {@code CASE:MxNxK}; the comment names where it occurs
 * (R = batch·seq tokens, D width, I expert width, V vocabulary; slab = one expert's rows).
 * GFLOP/s = 2·M·N·K / (ms/op · 10⁶). On a shared machine prefer {@link GemmVsOpenBlas}, which pairs each Java call
 * with an OpenBLAS call under the same load and prints the ratio table.
 *
 * <pre>bin/bench moe-model GemmBenchmark -p threads=1 -p shape=NT:256x864x1280</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class GemmBenchmark {
    @Param({
        "NT:256x64x64",        // tiny: q/k/v/o projection forward, R=256, D=64
        "NT:256x512x64",       // tiny: output head forward, V=512
        "NT:2048x512x512",     // small: projection forward, R=2048, D=512
        "NT:200x352x512",      // small: expert slab gate/up forward, I=352
        "TN:352x512x200",      // small: expert slab weight gradient
        "NT:2048x8192x512",    // small: output head forward, V=8192
        "NT:2048x1280x1280",   // val-2b: projection forward, R=2048, D=1280
        "NT:16384x1280x1280",  // val-2b: projection forward, R=16384
        "NT:256x864x1280",     // val-2b: expert slab gate/up forward, I=864
        "NT:256x1280x864",     // val-2b: expert slab down forward
        "NN:256x1280x864",     // val-2b: expert slab input gradient
        "TN:864x1280x256",     // val-2b: expert slab weight gradient
        "NT:2048x8192x1280",   // val-2b: output head forward
        "NN:2048x1280x8192",   // val-2b: output head input gradient
        "TN:1280x1280x2048",   // val-2b: projection weight gradient
    })
    public String shape;

    @Param({"1", "2"})
    public int threads;

    @Param({"java", "openblas"})
    public String impl;

    private GemmCase gemmCase;
    private int m, n, k, lda, ldb, ldc;
    private float[] a, b, c;
    private Arena arena;
    private MemorySegment aSegment, bSegment, cSegment;
    private FloatPointer aNative, bNative, cNative;
    private CpuThreadPool pool;

    @Setup(Level.Trial)
    public void setUp() {
        String[] parts = shape.split("[:x]");
        gemmCase = GemmCase.valueOf(parts[0]);
        m = Integer.parseInt(parts[1]);
        n = Integer.parseInt(parts[2]);
        k = Integer.parseInt(parts[3]);
        lda = gemmCase == GemmCase.TN ? m : k;
        ldb = gemmCase == GemmCase.NT ? k : n;
        ldc = n;
        SplittableRandom random = new SplittableRandom(42);
        a = randomArray(m * k, random);
        b = randomArray(k * n, random);
        c = new float[m * n];
        switch (impl) {
            case "java" -> {
                pool = CpuThreadPool.create(threads);
                arena = Arena.ofShared();
                aSegment = aligned(a);
                bSegment = aligned(b);
                cSegment = aligned(c);
            }
            case "openblas" -> {
                openblas_nolapack.blas_set_num_threads(threads);
                aNative = new FloatPointer(a);
                bNative = new FloatPointer(b);
                cNative = new FloatPointer(c);
            }
            default -> throw new IllegalArgumentException("impl must be java or openblas, got " + impl);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (pool != null) {
            pool.close();
            arena.close();
        }
        if (aNative != null) {
            aNative.close();
            bNative.close();
            cNative.close();
        }
    }

    @Benchmark
    public Object gemm() {
        if (pool != null) {
            Gemm.run(pool, gemmCase, m, n, k, aSegment, 0, lda, bSegment, 0, ldb, cSegment, 0, ldc, false);
            return cSegment;
        }
        cblas_sgemm(CblasRowMajor, gemmCase == GemmCase.TN ? CblasTrans : CblasNoTrans,
                gemmCase == GemmCase.NT ? CblasTrans : CblasNoTrans, m, n, k, 1f, aNative, lda, bNative, ldb,
                0f, cNative, ldc);
        return cNative;
    }

    /** A 64-byte aligned off-heap copy, as the CPU backend allocates its tensors. */
    private MemorySegment aligned(float[] values) {
        MemorySegment segment = arena.allocate(4L * values.length, 64);
        MemorySegment.copy(values, 0, segment, ValueLayout.JAVA_FLOAT, 0, values.length);
        return segment;
    }

    private static float[] randomArray(int length, SplittableRandom random) {
        float[] values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float) (random.nextDouble() * 2 - 1);
        return values;
    }
}
