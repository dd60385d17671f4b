package org.sparkmoe.model.backend.cuda.bench;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.sparkmoe.model.attention.KvCache;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.CudaBackend;
import org.sparkmoe.model.backend.cuda.DeviceSelection;
import org.sparkmoe.model.backend.cuda.GemmPrecision;
import org.sparkmoe.model.backend.cuda.GroupedGemmPath;
import org.sparkmoe.model.backend.MemoryInfo;
import org.sparkmoe.model.checkpoint.CheckpointFiles;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.generate.Completion;
import org.sparkmoe.model.generate.GenerationConfig;
import org.sparkmoe.model.generate.GenerationRequest;
import org.sparkmoe.model.generate.Generator;
import org.sparkmoe.model.train.EvalMetrics;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.MemoryEstimate;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The paper's 16B model on one GPU, as a short table. {@code infer}: {@code 16b} as an inference engine (bf16 GEMM
 * operands, fp32 weights, no training state), loss of real token ids (the staged byte-level batches of
 * {@code ShardBatchDump}) over 4 × 128 tokens and over one 4096-token sequence, with memory and time; then greedy
 * generation on the same engine with the {@link Generator}'s KV cache: 4 prompts of 128 real ids, prefill alone and
 * {@value #NEW_TOKENS} new tokens each, timed, with the cache's memory.
 * {@code train}: the 16b shape with {@code num_hidden_layers=4} (past 2^31 parameters) trained a few steps on one
 * real batch (loss must fall), saved as a sharded checkpoint, reloaded on a fresh backend, and one more step on each
 * compared bit for bit. {@code fit}: the memory estimate of 16b and 145b for training and inference against this
 * GPU, and the most 16b layers one GPU trains. Weights are random (N(0, 0.006²), norms 1), filled in parallel on the
 * host (ParameterInit's one sequential stream would take minutes for 16.4B values).
 *
 * <pre>java ... SixteenB IDS_FILE CHECKPOINT_DIR [infer] [train] [fit]</pre>
 */
public final class SixteenB {

    private static final int SEQ = 128;
    private static final int BATCH = 4;
    private static final int NEW_TOKENS = 32;
    private static final int PREFILL_TOKENS = 512;

    private SixteenB() {
    }

    public static void main(String[] args) throws Exception {
        Path idsFile = Path.of(args[0]);
        Path checkpoint = Path.of(args[1]);
        List<String> steps = args.length > 2 ? List.of(args).subList(2, args.length) : List.of("fit", "infer", "train");
        IntBuffer all = ByteBuffer.wrap(Files.readAllBytes(idsFile)).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer();
        int[] ids = new int[all.remaining()];
        all.get(ids);
        int[] batch = java.util.Arrays.copyOf(ids, BATCH * (SEQ + 1));
        ModelConfig sixteen = ModelPresets.load("16b");
        for (String step : steps) {
            switch (step) {
                case "fit" -> fit(sixteen);
                case "infer" -> infer(sixteen, batch, ids);
                case "train" -> train(sixteen.withNumLayers(4), batch, checkpoint);
                default -> throw new IllegalArgumentException("unknown step " + step + " (fit, infer, train)");
            }
        }
    }

    private static CudaBackend open() {
        return CudaBackend.open(DeviceSelection.fromDeviceOption("0"), GemmPrecision.BF16, AttentionPath.GEMM,
                GroupedGemmPath.CUBLAS);
    }

    private static void fit(ModelConfig sixteen) {
        try (CudaBackend backend = open()) {
            MemoryInfo memory = backend.memory();
            System.out.printf(Locale.ROOT, "%n%-34s %14s %10s%n", "fit (estimate vs cuMemGetInfo free)", "GiB needed",
                    "fits");
            ModelConfig big = ModelPresets.load("145b");
            for (ModelConfig c : List.of(sixteen, big)) {
                for (boolean training : new boolean[] {false, true}) {
                    MemoryEstimate e = MemoryEstimate.of(c, 1, training, backend);
                    System.out.printf(Locale.ROOT, "%-34s %14.1f %10s%n", c.name() + (training ? " training" : " inference")
                            + " (micro-batch 1 x " + c.maxSeqLen() + ")", e.totalBytes() / 1073741824.0,
                            e.totalBytes() <= memory.freeBytes());
                }
            }
            int layers = 0;
            for (int l = 1; l <= sixteen.numLayers(); l++) {
                if (MemoryEstimate.of(sixteen.withNumLayers(l), 1, true, backend).totalBytes() <= memory.freeBytes()) {
                    layers = l;
                }
            }
            MemoryEstimate most = MemoryEstimate.of(sixteen.withNumLayers(layers), 1, true, backend);
            System.out.printf(Locale.ROOT, "16b training fits one GPU with at most num_hidden_layers=%d (%,d parameters,"
                    + " %.1f GiB of %.1f GiB free)%n", layers, most.parameterBytes() / 4,
                    most.totalBytes() / 1073741824.0, memory.freeBytes() / 1073741824.0);
        }
    }

    private static void infer(ModelConfig sixteen, int[] batch, int[] ids) {
        try (CudaBackend backend = open()) {
            long free0 = backend.memory().freeBytes();
            long start = System.nanoTime();
            try (TrainingEngine engine = TrainingEngine.createForInference(sixteen, TrainConfig.forInference(BATCH),
                    backend)) {
                fillRandom(engine);
                double buildSeconds = (System.nanoTime() - start) / 1e9;
                EvalMetrics warm = engine.evaluate(batch, BATCH, SEQ + 1);
                long t0 = System.nanoTime();
                EvalMetrics m = engine.evaluate(batch, BATCH, SEQ + 1);
                double shortMs = (System.nanoTime() - t0) / 1e6;
                int[] longSequence = java.util.Arrays.copyOf(ids, sixteen.maxSeqLen() + 1);
                engine.evaluate(longSequence, 1, longSequence.length);
                t0 = System.nanoTime();
                EvalMetrics longM = engine.evaluate(longSequence, 1, longSequence.length);
                double longMs = (System.nanoTime() - t0) / 1e6;
                long used = free0 - backend.memory().freeBytes();
                System.out.printf(Locale.ROOT, "%n16b inference: %,d parameters, estimate %s%n", engine.parameterCount(),
                        engine.memoryEstimate());
                System.out.printf(Locale.ROOT, "%-28s %10s %10s %12s %14s%n", "16b inference (bf16 GEMMs)", "loss",
                        "ms", "tokens/s", "GPU GiB used");
                System.out.printf(Locale.ROOT, "%-28s %10.4f %10.1f %12.0f %14.1f%n", BATCH + " x " + SEQ + " real ids",
                        m.loss(), shortMs, BATCH * SEQ / (shortMs / 1e3), used / 1073741824.0);
                System.out.printf(Locale.ROOT, "%-28s %10.4f %10.1f %12.0f %14.1f%n", "1 x " + sixteen.maxSeqLen()
                        + " real ids", longM.loss(), longMs, sixteen.maxSeqLen() / (longMs / 1e3), used / 1073741824.0);
                System.out.printf(Locale.ROOT, "build + random fill %.1f s; first evaluate loss %.4f (same batch)%n",
                        buildSeconds, warm.loss());
                System.out.printf(Locale.ROOT, "tensors allocated %.2f GiB (estimate %.2f), workspace %.2f GiB (estimate"
                        + " %.2f)%n", backend.allocatedBytes() / 1073741824.0,
                        engine.memoryEstimate().tensorBytes() / 1073741824.0, backend.workspaceBytesInUse() / 1073741824.0,
                        engine.memoryEstimate().workspaceBytes() / 1073741824.0);
                generate(engine, batch, free0);
            }
        }
    }

    /**
     * Greedy generation on {@code engine} (closed by the generator): the first {@link #BATCH} rows of {@code batch}
     * as prompts of {@link #SEQ} ids; one call that stops after the first new token (the prefill and the head), then
     * one of {@link #NEW_TOKENS}, whose difference is the decoding steps.
     */
    private static void generate(TrainingEngine engine, int[] batch, long free0) {
        ModelConfig config = engine.modelConfig();
        List<int[]> prompts = new ArrayList<>();
        for (int b = 0; b < BATCH; b++) {
            prompts.add(java.util.Arrays.copyOfRange(batch, b * (SEQ + 1), b * (SEQ + 1) + SEQ));
        }
        try (Generator generator = new Generator(engine, BATCH, PREFILL_TOKENS)) {
            long cache = KvCache.bytes(config.numLayers(), BATCH, config.maxSeqLen(), config.hiddenSize());
            generator.generate(requests(prompts, 1));
            long t0 = System.nanoTime();
            List<Completion> first = generator.generate(requests(prompts, 1));
            double prefillMs = (System.nanoTime() - t0) / 1e6;
            t0 = System.nanoTime();
            List<Completion> all = generator.generate(requests(prompts, NEW_TOKENS));
            double allMs = (System.nanoTime() - t0) / 1e6;
            double decodeMs = (allMs - prefillMs) / (NEW_TOKENS - 1);
            boolean agree = IntStream.range(0, BATCH).allMatch(b -> first.get(b).tokens()[0] == all.get(b).tokens()[0]);
            long used = free0 - engine.backend().memory().freeBytes();
            System.out.printf(Locale.ROOT, "%n%-36s %10s %12s %14s%n", "16b greedy generation (bf16 GEMMs)", "ms",
                    "tokens/s", "GPU GiB used");
            System.out.printf(Locale.ROOT, "%-36s %10.1f %12.0f %14.1f%n", "prefill " + BATCH + " x " + SEQ + " ids",
                    prefillMs, BATCH * SEQ / (prefillMs / 1e3), used / 1073741824.0);
            System.out.printf(Locale.ROOT, "%-36s %10.1f %12.0f %14.1f%n", "decode, per step of " + BATCH + " rows",
                    decodeMs, BATCH / (decodeMs / 1e3), used / 1073741824.0);
            System.out.printf(Locale.ROOT, "KV cache %.2f GiB (%d sequences x %d positions); first new tokens the same"
                    + " in both calls: %s%n", cache / 1073741824.0, BATCH, config.maxSeqLen(), agree);
        }
    }

    private static List<GenerationRequest> requests(List<int[]> prompts, int newTokens) {
        return prompts.stream().map(p -> new GenerationRequest(p, GenerationConfig.greedy(newTokens, -1))).toList();
    }

    private static void train(ModelConfig config, int[] batch, Path dir) throws Exception {
        TrainConfig train = new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 100, 0.1, 0.9, 0.95, 1e-8, 0.0, 1.0,
                BATCH);
        List<String> rows = new ArrayList<>();
        double continued;
        double[] continuedSum;
        try (CudaBackend backend = open()) {
            long free0 = backend.memory().freeBytes();
            try (TrainingEngine engine = TrainingEngine.createForLoading(config, train, backend)) {
                fillRandom(engine);
                System.out.printf(Locale.ROOT, "%n16b x %d layers training: %,d parameters (> 2^31: %s), estimate %s%n",
                        config.numLayers(), engine.parameterCount(), engine.parameterCount() > Integer.MAX_VALUE,
                        engine.memoryEstimate());
                for (int s = 0; s < 5; s++) {
                    long t0 = System.nanoTime();
                    StepMetrics m = engine.step(batch, BATCH, SEQ + 1);
                    rows.add(String.format(Locale.ROOT, "step %d  loss %.4f  grad norm %.3f  %.0f ms", s + 1, m.loss(),
                            m.gradNorm(), (System.nanoTime() - t0) / 1e6));
                }
                rows.add(String.format(Locale.ROOT, "GPU used %.1f GiB; tensors %.2f GiB (estimate %.2f), workspace %.2f"
                        + " GiB (estimate %.2f)", (free0 - backend.memory().freeBytes()) / 1073741824.0,
                        backend.allocatedBytes() / 1073741824.0, engine.memoryEstimate().tensorBytes() / 1073741824.0,
                        backend.workspaceBytesInUse() / 1073741824.0, engine.memoryEstimate().workspaceBytes() / 1073741824.0));
                long t0 = System.nanoTime();
                Checkpoints.save(engine, CheckpointFiles.local(dir), Safetensors.Dtype.F32,
                        Checkpoints.DEFAULT_SHARD_BYTES);
                try (var listing = Files.list(dir)) {
                    rows.add(String.format(Locale.ROOT, "saved in %.1f s: %s", (System.nanoTime() - t0) / 1e9,
                            listing.map(p -> p.getFileName().toString()).sorted().toList()));
                }
                continued = engine.step(batch, BATCH, SEQ + 1).loss();
                continuedSum = checksum(engine);
            }
        }
        try (CudaBackend backend = open()) {
            long t0 = System.nanoTime();
            try (TrainingEngine loaded = Checkpoints.load(dir, train, backend)) {
                rows.add(String.format(Locale.ROOT, "reloaded in %.1f s at step %d", (System.nanoTime() - t0) / 1e9,
                        loaded.stepCount()));
                double again = loaded.step(batch, BATCH, SEQ + 1).loss();
                double[] againSum = checksum(loaded);
                rows.add(String.format(Locale.ROOT, "loss of the saved checkpoint on the batch (next step): saved engine %.6f, reloaded %.6f; parameter"
                        + " checksums %s / %s: %s", continued, again, java.util.Arrays.toString(continuedSum),
                        java.util.Arrays.toString(againSum), continued == again
                        && java.util.Arrays.equals(continuedSum, againSum) ? "IDENTICAL" : "DIFFERENT"));
            }
        }
        rows.forEach(System.out::println);
    }

    /** Random N(0, initStd²) matrices and unit norm weights, tensor by tensor in parallel, through the long API. */
    private static void fillRandom(TrainingEngine engine) {
        List<ParameterSpec> specs = engine.layout().specs();
        double std = engine.modelConfig().initStd();
        long largest = specs.stream().mapToLong(ParameterSpec::size).max().orElse(0);
        int threads = Runtime.getRuntime().availableProcessors();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment host = arena.allocate(4 * largest, 64);
            for (int i = 0; i < specs.size(); i++) {
                ParameterSpec spec = specs.get(i);
                long n = spec.size();
                long seed = i;
                IntStream.range(0, threads).parallel().forEach(part -> {
                    SplittableRandom random = new SplittableRandom(seed * 1_000_003L + part);
                    long from = n * part / threads;
                    long to = n * (part + 1) / threads;
                    for (long j = from; j < to; j++) {
                        host.setAtIndex(JAVA_FLOAT, j, spec.decay() ? (float) (random.nextGaussian() * std) : 1f);
                    }
                });
                engine.writeParameters(spec.offset(), n, host);
            }
        }
    }

    /** Sum and sum of squares of all parameters in fp64, downloaded in 256 Mi-element pieces. */
    private static double[] checksum(TrainingEngine engine) {
        long n = engine.parameterCount();
        long piece = 1L << 28;
        double sum = 0;
        double squares = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(4 * Math.min(piece, n), 64);
            for (long first = 0; first < n; first += piece) {
                long count = Math.min(piece, n - first);
                engine.readParameters(first, count, host);
                for (long j = 0; j < count; j++) {
                    double v = host.getAtIndex(JAVA_FLOAT, j);
                    sum += v;
                    squares += v * v;
                }
            }
        }
        return new double[] {sum, squares};
    }
}
