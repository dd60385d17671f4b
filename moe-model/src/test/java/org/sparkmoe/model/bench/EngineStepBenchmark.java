package org.sparkmoe.model.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.backend.cpu.Gemm;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.config.ModelSize;
import org.sparkmoe.model.decoder.PhaseTimer;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Training throughput of the CPU engine: one optimiser step (forward, backward, AdamW) of {@code tiny} (8 × 64
 * tokens) and {@code small} (2 × 1024 tokens, micro-batch 1) on every available core, plus a GEMM anchor measured
 * in the same run ({@code 512³} NT, the engine's own kernel). After each iteration it prints tokens/s, model
 * GFLOP/s (6N + 12·L·d·T per token, {@link ModelSize}) and the split of step time by phase.
 *
 * <p>Run: {@code bin/bench moe-model EngineStepBenchmark -f 1 -wi 1 -w 10s -i 3 -r 20s}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class EngineStepBenchmark {

    @State(Scope.Benchmark)
    public static class Engine {
        @Param({"tiny", "small"})
        public String preset;

        TrainingEngine engine;
        int[] tokens;
        int batch;
        int seqPlusOne;
        long steps;
        ModelConfig config;

        @Setup(Level.Trial)
        public void setUp() {
            config = ModelPresets.load(preset);
            batch = preset.equals("tiny") ? 8 : 2;
            int micro = preset.equals("tiny") ? 8 : 1;
            seqPlusOne = config.maxSeqLen() + 1;
            TrainConfig train = new TrainConfig(3e-4, LrScheduleKind.CONSTANT, 0, 1_000_000, 0.1, 0.9, 0.95, 1e-8,
                    0.1, 1.0, micro);
            engine = TrainingEngine.create(config, train, CpuBackend.withAllCores(), 1);
            tokens = new int[batch * seqPlusOne];
            SplittableRandom random = new SplittableRandom(3);
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = random.nextInt(config.vocabSize());
            }
        }

        @Setup(Level.Iteration)
        public void resetTimer() {
            engine.model().timer().reset();
            steps = 0;
        }

        @TearDown(Level.Iteration)
        public void report() {
            Map<PhaseTimer.Phase, Double> seconds = engine.model().timer().seconds();
            double total = seconds.values().stream().mapToDouble(Double::doubleValue).sum();
            long tokensPerStep = (long) batch * (seqPlusOne - 1);
            double tokensPerSecond = steps * tokensPerStep / total;
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
                    "%n[engine %s] %d steps, %d tokens/step: %.0f tokens/s, %.1f model GFLOP/s; split:", preset,
                    steps, tokensPerStep, tokensPerSecond,
                    tokensPerSecond * ModelSize.of(config).flopsPerToken() / 1e9));
            seconds.forEach((phase, s) -> line.append(String.format(Locale.ROOT, " %s %.1f%%",
                    phase.name().toLowerCase(Locale.ROOT), 100 * s / total)));
            System.out.println(line);
        }

        @TearDown(Level.Trial)
        public void close() {
            engine.close();
        }
    }

    @State(Scope.Benchmark)
    public static class Anchor {
        final int n = 512;
        MemorySegment a = Arena.global().allocate(4L * n * n, 64);
        MemorySegment b = Arena.global().allocate(4L * n * n, 64);
        MemorySegment c = Arena.global().allocate(4L * n * n, 64);

        @Setup(Level.Trial)
        public void setUp() {
            SplittableRandom random = new SplittableRandom(1);
            for (long i = 0; i < (long) n * n; i++) {
                a.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextGaussian());
                b.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextGaussian());
            }
        }
    }

    @Benchmark
    public StepMetrics trainingStep(Engine s) {
        s.steps++;
        return s.engine.step(s.tokens, s.batch, s.seqPlusOne);
    }

    /** 2·512³ FLOP per call: GFLOP/s = 0.268 / (ms per call). */
    @Benchmark
    public MemorySegment gemmAnchor512(Anchor s) {
        Gemm.nt(s.n, s.n, s.n, s.a, 0, s.n, s.b, 0, s.n, s.c, 0, s.n, false);
        return s.c;
    }
}
