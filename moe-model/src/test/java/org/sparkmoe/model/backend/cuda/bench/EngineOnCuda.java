package org.sparkmoe.model.backend.cuda.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.MemoryInfo;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.CudaBackend;
import org.sparkmoe.model.backend.cuda.CudaDevice;
import org.sparkmoe.model.backend.cuda.DeviceSelection;
import org.sparkmoe.model.backend.cuda.GemmPrecision;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.config.ModelSize;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The engine's own {@link TrainingEngine} on the CUDA backend, on the GPU machine:
 * <ul>
 *   <li>{@code curve}: the {@code tiny} model trained 200 steps on the same learnable synthetic batches with the CPU
 *   backend, the CUDA backend with fp32 GEMMs and with bf16 GEMMs; prints the three loss curves side by side and
 *   their largest differences.</li>
 *   <li>{@code PRESET[,KEY=VALUE...][:BATCH[:STEPS[:recompute-attention]]]}: training throughput of a preset, model
 *   config keys overridden as given (e.g. {@code small,vocab_size=32000:16}, the train job's
 *   {@code --vocab_size 32000}; micro-batch = batch, full sequences), median of STEPS (default 10) timed steps after
 *   20 warm-up steps, wall clock (processes sharing the GPU time more steps, so that their timed steps overlap) (a step
 *   ends by reading its scalars, so the device is done); {@code recompute-attention} trains with
 *   {@link TrainConfig#recomputeAttention()}.</li>
 *   <li>{@code shards:PRESET:FILE}: loss curves of a preset on real-shard batches dumped by {@code ShardBatchDump},
 *   CPU backend against CUDA fp32 and bf16, with their largest and late-mean differences.</li>
 *   <li>{@code profile PRESET[,KEY=VALUE...][:BATCH]...}: every preset after the word, three warm steps each split into wall time, host
 *   time blocked on the device, launch and GEMM-call counts, and the engine's phases; under Nsight Compute with
 *   {@code --profile-from-start off} the first of them is the step profiled.</li>
 * </ul>
 * Run: {@code java ... EngineOnCuda curve small:16 val-2b:8} or {@code EngineOnCuda profile small:16 val-2b:8}.
 */
public final class EngineOnCuda {

    private EngineOnCuda() {
    }

    private static TrainConfig train(int microBatch) {
        return new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, microBatch);
    }

    /** Rows of an arithmetic progression modulo the vocabulary, each row its own start and stride: learnable. */
    private static int[] syntheticBatch(SplittableRandom random, int batch, int seqLenPlusOne, int vocab) {
        int[] tokens = new int[batch * seqLenPlusOne];
        for (int b = 0; b < batch; b++) {
            int start = random.nextInt(vocab);
            int stride = 1 + random.nextInt(7);
            for (int t = 0; t < seqLenPlusOne; t++) {
                tokens[b * seqLenPlusOne + t] = (start + stride * t) % vocab;
            }
        }
        return tokens;
    }

    private static double[] lossCurve(Backend backend, ModelConfig model, int steps, int batch) {
        int seqLenPlusOne = model.maxSeqLen() + 1;
        SplittableRandom data = new SplittableRandom(11);
        double[] losses = new double[steps];
        try (TrainingEngine engine = TrainingEngine.create(model, train(batch), backend, 5)) {
            for (int s = 0; s < steps; s++) {
                StepMetrics m = engine.step(syntheticBatch(data, batch, seqLenPlusOne, model.vocabSize()), batch,
                        seqLenPlusOne);
                losses[s] = m.loss();
            }
        }
        return losses;
    }

    private static void curve(CudaDevice device) {
        ModelConfig tiny = ModelPresets.load("tiny");
        int steps = 200;
        int batch = 8;
        double[] cpu = lossCurve(new CpuBackend(Runtime.getRuntime().availableProcessors()), tiny, steps, batch);
        double[] fp32 = lossCurve(new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM), tiny, steps, batch);
        double[] bf16 = lossCurve(new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM), tiny, steps, batch);
        System.out.println("tiny loss curves (200 steps, batch 8 x 64, lr 1e-3):  step   cpu      cuda-fp32  cuda-bf16");
        double maxFp32 = 0;
        double maxBf16 = 0;
        for (int s = 0; s < steps; s++) {
            maxFp32 = Math.max(maxFp32, Math.abs(fp32[s] - cpu[s]) / cpu[s]);
            maxBf16 = Math.max(maxBf16, Math.abs(bf16[s] - cpu[s]) / cpu[s]);
            if (s % 20 == 0 || s == steps - 1) {
                System.out.printf(Locale.ROOT, "%60d   %.5f  %.5f    %.5f%n", s, cpu[s], fp32[s], bf16[s]);
            }
        }
        System.out.printf(Locale.ROOT, "{\"curve\":\"tiny\",\"steps\":%d,\"cpu_final\":%.5f,\"fp32_final\":%.5f,"
                + "\"bf16_final\":%.5f,\"max_rel_diff_fp32\":%.2e,\"max_rel_diff_bf16\":%.2e}%n", steps, cpu[steps - 1],
                fp32[steps - 1], bf16[steps - 1], maxFp32, maxBf16);
    }

    /**
     * One warm engine step on {@code preset}, split three ways: wall time; host time blocked waiting for the device
     * (the rest is the host issuing work, which the device may or may not hide); and the engine's phase timer (host
     * wall per phase, device waits included where a phase waits).
     */
    private static void profile(CudaDevice device, String preset, int batch) {
        ModelConfig model = model(preset);
        int seqLenPlusOne = model.maxSeqLen() + 1;
        SplittableRandom data = new SplittableRandom(3);
        try (TrainingEngine engine = TrainingEngine.create(model, train(batch),
                new CudaBackend(device, GemmPrecision.BF16, AttentionPath.AUTO), 1)) {
            for (int s = 0; s < 6; s++) {
                int[] tokens = syntheticBatch(data, batch, seqLenPlusOne, model.vocabSize());
                device.stats().reset();
                engine.model().timer().reset();
                // The first timed step is the one a profiler started with --profile-from-start off measures.
                device.profiling(s == 3);
                long t0 = System.nanoTime();
                engine.step(tokens, batch, seqLenPlusOne);
                double wall = (System.nanoTime() - t0) / 1e6;
                if (s < 3) {
                    continue;
                }
                StringBuilder phases = new StringBuilder();
                engine.model().timer().seconds().forEach((phase, sec) -> phases.append(String.format(Locale.ROOT,
                        " %s %.1f", phase, sec * 1e3)));
                System.out.printf(Locale.ROOT, "profile %s batch %d: step %.1f ms wall; %s; issuing %.1f ms;"
                        + " phases (ms):%s%n", preset, batch, wall, device.stats(), wall - device.stats().blockedMillis(),
                        phases);
            }
        }
    }

    /**
     * Loss curves on real shards: the batches {@code ShardBatchDump} (pipeline-jobs) read from real Arrow shards of
     * real corpus text with the trainer's loader, in a file named {@code batches-SEQ-BATCH-STEPS.i32}; the CPU backend
     * (all cores, on its own thread, alongside) against CUDA with fp32 and with bf16 GEMMs.
     */
    private static void shardCurve(CudaDevice device, String preset, Path file) throws Exception {
        String[] shape = file.getFileName().toString().replace(".i32", "").split("-");
        int seqLen = Integer.parseInt(shape[1]);
        int batch = Integer.parseInt(shape[2]);
        int steps = Integer.parseInt(shape[3]);
        int row = seqLen + 1;
        IntBuffer ids = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer();
        if (ids.remaining() != steps * batch * row) {
            throw new IllegalArgumentException(file + " holds " + ids.remaining() + " ids, its name promises "
                    + (long) steps * batch * row);
        }
        int[][] batches = new int[steps][batch * row];
        for (int[] b : batches) {
            ids.get(b);
        }
        ModelConfig model = ModelPresets.load(preset);
        CompletableFuture<double[]> cpu = CompletableFuture.supplyAsync(
                () -> lossCurve(new CpuBackend(Runtime.getRuntime().availableProcessors()), model, batches, row));
        double[] fp32 = lossCurve(new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM), model, batches, row);
        double[] bf16 = lossCurve(new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM), model, batches, row);
        double[] reference = cpu.get();
        System.out.printf(Locale.ROOT, "%s on real shards (%d steps, batch %d x %d, lr 1e-3):   step   cpu      cuda-fp32"
                + "  cuda-bf16%n", preset, steps, batch, seqLen);
        double maxFp32 = 0;
        double maxBf16 = 0;
        double tailBf16 = 0;
        int tail = Math.min(50, steps);
        double[] tailMean = new double[3];  // cpu, fp32, bf16: mean loss over the last `tail` steps
        int fp32Apart = -1;  // first step whose loss differs from the CPU's by more than 1e-4 relative
        int bf16Apart = -1;  // likewise for bf16, by more than 1e-2
        for (int s = 0; s < steps; s++) {
            maxFp32 = Math.max(maxFp32, Math.abs(fp32[s] - reference[s]) / reference[s]);
            double rel = Math.abs(bf16[s] - reference[s]) / reference[s];
            maxBf16 = Math.max(maxBf16, rel);
            if (fp32Apart < 0 && Math.abs(fp32[s] - reference[s]) / reference[s] > 1e-4) {
                fp32Apart = s;
            }
            if (bf16Apart < 0 && rel > 1e-2) {
                bf16Apart = s;
            }
            if (s >= steps - tail) {
                tailBf16 += rel / tail;
                tailMean[0] += reference[s] / tail;
                tailMean[1] += fp32[s] / tail;
                tailMean[2] += bf16[s] / tail;
            }
            if (s % 25 == 0 || s == steps - 1) {
                System.out.printf(Locale.ROOT, "%70d   %.5f  %.5f    %.5f%n", s, reference[s], fp32[s], bf16[s]);
            }
        }
        System.out.printf(Locale.ROOT, "{\"curve\":\"%s-shards\",\"steps\":%d,\"batch\":%d,\"seq\":%d,"
                + "\"cpu_final\":%.5f,\"fp32_final\":%.5f,\"bf16_final\":%.5f,\"max_rel_diff_fp32\":%.2e,"
                + "\"max_rel_diff_bf16\":%.2e,\"mean_rel_diff_bf16_last%d\":%.2e,\"mean_loss_last%d\":[%.5f,%.5f,%.5f],"
                + "\"fp32_apart_1e-4_at\":%d,\"bf16_apart_1e-2_at\":%d}%n", preset, steps, batch, seqLen,
                reference[steps - 1], fp32[steps - 1], bf16[steps - 1], maxFp32, maxBf16, tail, tailBf16, tail,
                tailMean[0], tailMean[1], tailMean[2], fp32Apart, bf16Apart);
    }

    private static double[] lossCurve(Backend backend, ModelConfig model, int[][] batches, int row) {
        double[] losses = new double[batches.length];
        int batch = batches[0].length / row;
        try (TrainingEngine engine = TrainingEngine.create(model, train(batch), backend, 5)) {
            for (int s = 0; s < batches.length; s++) {
                losses[s] = engine.step(batches[s], batch, row).loss();
            }
        }
        return losses;
    }

    /** {@code PRESET[,KEY=VALUE...]}: a bundled preset with model config keys overridden. */
    private static ModelConfig model(String spec) {
        String[] parts = spec.split(",");
        java.util.Properties props = ModelPresets.properties(parts[0]);
        if (props == null) {
            throw new IllegalArgumentException("no model preset " + parts[0] + " (one of " + ModelPresets.NAMES + ")");
        }
        for (int i = 1; i < parts.length; i++) {
            String[] kv = parts[i].split("=", 2);
            props.setProperty(kv[0], kv[1]);
        }
        return ModelPresets.fromProperties(spec, props);
    }

    private static void throughput(CudaDevice device, String preset, int batch, int steps,
                                   boolean recomputeAttention) {
        ModelConfig model = model(preset);
        int seqLenPlusOne = model.maxSeqLen() + 1;
        SplittableRandom data = new SplittableRandom(3);
        CudaBackend backend = new CudaBackend(device, GemmPrecision.BF16, AttentionPath.AUTO);
        // Device memory is measured as what the engine adds to the device's use (cuMemGetInfo): parameters, optimiser
        // state, activations, the backend's workspace and cuBLAS's. Nothing is freed between steps, so after the
        // timed steps it is the peak; PyTorch's figure beside it is torch.cuda.max_memory_allocated.
        long usedBefore = used(backend);
        try (TrainingEngine engine = TrainingEngine.create(model,
                train(batch).withRecomputeAttention(recomputeAttention), backend, 1)) {
            double[] millis = new double[steps];
            StepMetrics last = null;
            // The JIT compiles the launch paths and the allocator settles over the first steps: small's first 10 are
            // 1.5-10x slower than its steady state.
            int warmup = 20;
            for (int s = 0; s < warmup + millis.length; s++) {
                int[] tokens = syntheticBatch(data, batch, seqLenPlusOne, model.vocabSize());
                long t0 = System.nanoTime();
                last = engine.step(tokens, batch, seqLenPlusOne);
                if (s >= warmup) {
                    millis[s - warmup] = (System.nanoTime() - t0) / 1e6;
                }
            }
            Arrays.sort(millis);
            double median = millis[millis.length / 2];
            double tokensPerSecond = (double) batch * model.maxSeqLen() / (median / 1000);
            double peakGiB = (used(backend) - usedBefore) / (double) (1L << 30);
            System.out.printf(Locale.ROOT, "engine %s on CUDA%s: batch %d x %d, step %.1f ms (median of %d; min %.1f,"
                    + " max %.1f), %.0f tokens/s, loss %.3f, skipped %d, device memory %.1f GiB%n", preset,
                    recomputeAttention ? " (q/k/v recomputed)" : "", batch, model.maxSeqLen(), median, steps, millis[0],
                    millis[millis.length - 1], tokensPerSecond, last.loss(), engine.skippedSteps(), peakGiB);
            String config = preset.equals("val-2b") ? "val2b" : preset;
            // The PyTorch comparison's FLOP count for its configs; the model's own count (the same formula) else.
            double flopsPerToken = config.equals("val2b") || config.equals("small")
                    ? StepShape.named(config).flopsPerToken() : ModelSize.of(model).flopsPerToken();
            System.out.printf(Locale.ROOT, "{\"config\":\"%s\",\"impl\":\"sparkmoe-engine-cuda%s\","
                    + "\"tokens_per_s\":%.0f,\"model_TFLOPs\":%.1f,\"step_ms\":%.1f,\"peak_mem_GB\":%.1f}%n", config,
                    recomputeAttention ? "-recompute-attention" : "", tokensPerSecond,
                    tokensPerSecond * flopsPerToken / 1e12, median, peakGiB);
        }
    }

    private static long used(CudaBackend backend) {
        MemoryInfo info = backend.memory();
        return info.totalBytes() - info.freeBytes();
    }

    public static void main(String[] args) throws Exception {
        try (CudaDevice device = CudaDevice.open(new DeviceSelection(0, "EngineOnCuda"))) {
            boolean profiling = false;
            for (String arg : args) {
                if (arg.equals("curve")) {
                    curve(device);
                } else if (arg.startsWith("shards:")) {
                    String[] parts = arg.split(":", 3);
                    shardCurve(device, parts[1], Path.of(parts[2]));
                } else if (arg.equals("profile")) {
                    profiling = true;
                } else if (profiling) {
                    String[] parts = arg.split(":");
                    profile(device, parts[0], parts.length > 1 ? Integer.parseInt(parts[1]) : 8);
                } else {
                    String[] parts = arg.split(":");
                    if (parts.length > 3 && !parts[3].equals("recompute-attention")) {
                        throw new IllegalArgumentException(arg + ": after PRESET:BATCH:STEPS only recompute-attention");
                    }
                    throughput(device, parts[0], parts.length > 1 ? Integer.parseInt(parts[1]) : 8,
                            parts.length > 2 ? Integer.parseInt(parts[2]) : 10, parts.length > 3);
                }
            }
        }
    }
}
