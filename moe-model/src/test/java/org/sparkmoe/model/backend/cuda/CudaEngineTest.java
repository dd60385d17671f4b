package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.moe.RoutingAblation;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The engine's {@link TrainingEngine} on the CUDA backend against the CPU backend: the {@code tiny} model's loss
 * curve (fp32 GEMMs within 1e-5 relative per step, bf16 GEMMs, the bf16 FLASH attention path and our own grouped
 * GEMM kernels within the 2e-2 that bf16 operands allow), and checkpoints moved between the backends both ways
 * continue training alike, and evaluation under the specialisation analyses' routing ablations scores alike. Skipped
 * without a GPU.
 */
class CudaEngineTest {

    private static final ModelConfig TINY = ModelPresets.load("tiny");
    /** tiny with 2 heads of 32: the fused attention kernels serve head dims 32, 64 and 128 (one lane per element). */
    private static final ModelConfig TINY_HD32 = tinyWithHeads(2);
    /** tiny with 1 head of 64: a head dim of the FLASH kernels (tiny's own 16 is not one). */
    private static final ModelConfig TINY_HD64 = tinyWithHeads(1);
    /** tiny at width 128 (experts of 64): every weight's place in the bf16 image is aligned, so GEMMs read it. */
    private static final ModelConfig TINY_WIDE = TestConfigs.preset("tiny", "hidden_size=128",
            "moe_intermediate_size=64");
    private static final TrainConfig TRAIN =
            new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, 4);
    private static final int BATCH = 4;

    /** Learnable rows: arithmetic progressions modulo the vocabulary. */
    private static int[] batch(SplittableRandom random) {
        int seq = TINY.maxSeqLen() + 1;
        int[] tokens = new int[BATCH * seq];
        for (int b = 0; b < BATCH; b++) {
            int start = random.nextInt(TINY.vocabSize());
            int stride = 1 + random.nextInt(7);
            for (int t = 0; t < seq; t++) {
                tokens[b * seq + t] = (start + stride * t) % TINY.vocabSize();
            }
        }
        return tokens;
    }

    private static double[] losses(TrainingEngine engine, long dataSeed, int steps) {
        SplittableRandom data = new SplittableRandom(dataSeed);
        double[] out = new double[steps];
        for (int s = 0; s < steps; s++) {
            out[s] = engine.step(batch(data), BATCH, TINY.maxSeqLen() + 1).loss();
        }
        return out;
    }

    private static ModelConfig tinyWithHeads(int heads) {
        try (InputStream in = CudaEngineTest.class.getClassLoader()
                .getResourceAsStream("sparkmoe-conf/models/tiny.properties")) {
            Properties props = new Properties();
            props.load(in);
            props.setProperty("num_attention_heads", String.valueOf(heads));
            return ModelPresets.fromProperties("tiny-hd" + (TINY.hiddenSize() / heads), props);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static double[] curve(Backend backend, int steps) {
        return curve(TINY, backend, steps);
    }

    private static double[] curve(ModelConfig model, Backend backend, int steps) {
        try (TrainingEngine engine = TrainingEngine.create(model, TRAIN, backend, 5)) {
            return losses(engine, 11, steps);
        }
    }

    private static void assertCurvesClose(String what, double[] out, double[] reference, double tolerance) {
        double worst = 0;
        for (int s = 0; s < reference.length; s++) {
            assertFalse(Double.isNaN(out[s]), what + ": loss at step " + s + " is NaN");
            worst = Math.max(worst, Math.abs(out[s] - reference[s]) / reference[s]);
        }
        System.out.printf("%s: largest relative loss difference %.2e over %d steps (tolerance %.0e)%n", what, worst,
                reference.length, tolerance);
        assertTrue(worst <= tolerance, what + ": " + worst + " > " + tolerance);
    }

    @Test
    void tinyLossCurveMatchesTheCpuBackend() {
        CudaDevice device = GpuTests.device();
        double[] cpu = curve(new CpuBackend(2), 40);
        assertCurvesClose("fp32 GEMMs", curve(new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM), 40), cpu,
                Checks.FP32_TOLERANCE);
        assertCurvesClose("fused attention (head dim 32)",
                curve(TINY_HD32, new CudaBackend(device, GemmPrecision.FP32, AttentionPath.FUSED), 40),
                curve(TINY_HD32, new CpuBackend(2), 40), Checks.FP32_TOLERANCE);
        UnsupportedOperationException refused = assertThrows(UnsupportedOperationException.class,
                () -> curve(new CudaBackend(device, GemmPrecision.FP32, AttentionPath.FUSED), 1));
        assertTrue(refused.getMessage().contains("not 16"), refused.getMessage());
        assertCurvesClose("bf16 GEMMs", curve(new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM), 40), cpu,
                2e-2);
        assertTrue(cpu[39] < cpu[0] - 0.5, "the synthetic rows are learnable: loss " + cpu[0] + " -> " + cpu[39]);
    }

    @Test
    void tinyLossCurveWithFlashAttentionFollowsTheCpuBackend() {
        CudaDevice device = GpuTests.device();
        assertCurvesClose("FLASH attention (head dim 64), bf16 GEMMs",
                curve(TINY_HD64, new CudaBackend(device, GemmPrecision.BF16, AttentionPath.FLASH), 40),
                curve(TINY_HD64, new CpuBackend(2), 40), 2e-2);
    }

    /**
     * Our grouped GEMM kernels in every MoE layer's forward and backward: {@code tiny} (8 experts of 32 x 64) and
     * {@code tiny} at width 128 (experts of 64 x 128, weights read from the bf16 image) follow the CPU backend within
     * what bf16 operands allow, as the cuBLAS path does.
     */
    @Test
    void tinyLossCurveWithOwnGroupedGemmsFollowsTheCpuBackend() {
        CudaDevice device = GpuTests.device();
        assertCurvesClose("own grouped GEMMs, bf16",
                curve(new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM, GroupedGemmPath.OWN), 40),
                curve(new CpuBackend(2), 40), 2e-2);
        assertCurvesClose("own grouped GEMMs, bf16, width 128",
                curve(TINY_WIDE, new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM, GroupedGemmPath.OWN),
                        40),
                curve(TINY_WIDE, new CpuBackend(2), 40), 2e-2);
    }

    @Test
    void checkpointsMoveBetweenBackendsBothWays(@TempDir Path dir) throws Exception {
        CudaDevice device = GpuTests.device();
        Supplier<Backend> cuda = () -> new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM);
        Supplier<Backend> cpu = () -> new CpuBackend(2);
        moveAndContinue("CUDA -> CPU", cuda, cpu, dir.resolve("from-cuda"));
        moveAndContinue("CPU -> CUDA", cpu, cuda, dir.resolve("from-cpu"));
    }

    /** Trains on {@code from}, saves, loads on both backends, and checks that both continue with the same losses. */
    private static void moveAndContinue(String what, Supplier<Backend> from, Supplier<Backend> to, Path dir)
            throws Exception {
        try (TrainingEngine source = TrainingEngine.create(TINY, TRAIN, from.get(), 9)) {
            losses(source, 1, 5);
            Checkpoints.save(source, dir, Safetensors.Dtype.F32);
        }
        double[] there;
        double[] back;
        try (TrainingEngine moved = Checkpoints.load(dir, TRAIN, to.get())) {
            there = losses(moved, 2, 5);
        }
        try (TrainingEngine stayed = Checkpoints.load(dir, TRAIN, from.get())) {
            back = losses(stayed, 2, 5);
        }
        assertCurvesClose(what + " continuation", there, back, Checks.FP32_TOLERANCE);
    }

    /**
     * The specialisation analyses run the ablated routing through ordinary backend ops (a wider top-K, host-side
     * slicing, several expert passes when K' exceeds K): on CUDA they must score what the CPU backend scores.
     */
    @Test
    void routingAblationsScoreAsOnTheCpuBackend(@TempDir Path dir) throws Exception {
        CudaDevice device = GpuTests.device();
        try (TrainingEngine trained = TrainingEngine.create(TINY, TRAIN, new CpuBackend(2), 9)) {
            losses(trained, 1, 20);
            Checkpoints.save(trained, dir, Safetensors.Dtype.F32);
        }
        RoutingAblation trainedRouting = RoutingAblation.baseline(TINY);
        RoutingAblation[] ablations = {
            trainedRouting,
            trainedRouting.withDisabledTopShare(1.0 / 8),
            trainedRouting.withDisabledTopShare(2.0 / 8),
            trainedRouting.withActivatedExperts(1),
            trainedRouting.withSharedExperts(false).withActivatedExperts(TINY.numExpertsPerTok() + 1),
        };
        int[] tokens = batch(new SplittableRandom(3));
        double[] cpu = new double[ablations.length];
        double[] cuda = new double[ablations.length];
        try (TrainingEngine onCpu = Checkpoints.load(dir, TRAIN, new CpuBackend(2));
             TrainingEngine onCuda = Checkpoints.load(dir, TRAIN,
                     new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM))) {
            for (int i = 0; i < ablations.length; i++) {
                cpu[i] = onCpu.evaluate(tokens, BATCH, TINY.maxSeqLen() + 1, ablations[i]).loss();
                cuda[i] = onCuda.evaluate(tokens, BATCH, TINY.maxSeqLen() + 1, ablations[i]).loss();
            }
        }
        assertCurvesClose("routing ablations (trained, 1/8 and 2/8 top disabled, K=1, no shared at K+1)", cuda, cpu,
                Checks.FP32_TOLERANCE);
        assertTrue(cpu[1] != cpu[0] && cpu[4] != cpu[0], "the ablations change the loss: " + Arrays.toString(cpu));
    }
}
