package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.ExpertSlots;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The sort by expert on the device ({@code expert_slots.cu}, {@link CudaBackend#routeExperts}) against
 * {@link ExpertSlots}: slots, offsets and accumulated loads bit for bit on random and degenerate routings; and the
 * engine on our own grouped GEMMs routed on the device against the same backend routed on the host: the same losses,
 * gradient norms and tokens per expert bit for bit, and no host wait per MoE layer. Skipped without a GPU.
 */
class CudaExpertRoutingTest {

    private static final ModelConfig TINY = ModelPresets.load("tiny");
    private static final TrainConfig TRAIN =
            new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, 2);
    private static final int BATCH = 4;

    @Test
    void deviceSlotsOffsetsAndLoadsEqualTheHostSort() {
        CudaDevice device = GpuTests.device();
        SplittableRandom random = new SplittableRandom(3);
        try (CudaBackend backend = new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM,
                GroupedGemmPath.OWN)) {
            check(backend, randomChoices(random, 1, 1, 4), 1, 1, 4);
            check(backend, randomChoices(random, 333, 3, 64), 333, 3, 64);
            check(backend, randomChoices(random, 4096, 6, 256), 4096, 6, 256);
            check(backend, new int[5000 * 2], 5000, 2, 16);
            int[] last = new int[1031 * 4];
            java.util.Arrays.fill(last, 255);
            check(backend, last, 1031, 4, 256);
            int[] sparse = randomChoices(random, 2999, 3, 3);
            for (int a = 0; a < sparse.length; a++) {
                sparse[a] *= 5;
            }
            check(backend, sparse, 2999, 3, 16);
            check(backend, randomChoices(random, 500_000, 6, 256), 500_000, 6, 256);
            check(backend, randomChoices(random, 70_001, 1, 1024), 70_001, 1, 1024);
        }
    }

    private static int[] randomChoices(SplittableRandom random, int rows, int k, int experts) {
        int[] choices = new int[rows * k];
        for (int a = 0; a < choices.length; a++) {
            choices[a] = random.nextInt(experts);
        }
        return choices;
    }

    private static void check(CudaBackend backend, int[] choices, int rows, int k, int experts) {
        int n = rows * k;
        int[] slots = new int[n];
        int[] counts = ExpertSlots.sort(choices, n, experts, slots);
        Tensor idx = backend.allocate("idx", DType.I32, n);
        Tensor slot = backend.allocate("slot", DType.I32, n);
        Tensor offsets = backend.allocate("offsets", DType.I32, experts + 1);
        Tensor load = backend.allocate("load", DType.I32, experts);
        backend.uploadInts(choices, 0, idx, 0, n);
        backend.routeExperts(idx, slot, offsets, load, rows, k, experts);
        backend.routeExperts(idx, slot, offsets, load, rows, k, experts);
        int[] deviceSlots = new int[n];
        int[] deviceOffsets = new int[experts + 1];
        int[] deviceLoad = new int[experts];
        backend.downloadInts(slot, 0, deviceSlots, 0, n);
        backend.downloadInts(offsets, 0, deviceOffsets, 0, experts + 1);
        backend.downloadInts(load, 0, deviceLoad, 0, experts);
        String what = rows + " x " + k + " over " + experts + " experts";
        assertArrayEquals(slots, deviceSlots, what + ": slots");
        assertArrayEquals(ExpertSlots.offsets(counts), deviceOffsets, what + ": offsets");
        int[] twice = new int[experts];
        for (int e = 0; e < experts; e++) {
            twice[e] = 2 * counts[e];
        }
        assertArrayEquals(twice, deviceLoad, what + ": loads after two routings");
        for (Tensor t : new Tensor[] {idx, slot, offsets, load}) {
            backend.free(t);
        }
    }

    @Test
    void engineRoutedOnTheDeviceEqualsHostRoutingWithoutAWaitPerMoeLayer() {
        CudaDevice device = GpuTests.device();
        Run host = run(device, CudaBackend.routingOnHost(device, AttentionPath.GEMM));
        Run onDevice = run(device, new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM,
                GroupedGemmPath.OWN));
        for (int s = 0; s < host.metrics.length; s++) {
            assertEquals(host.metrics[s].loss(), onDevice.metrics[s].loss(), "loss at step " + s);
            assertEquals(host.metrics[s].gradNorm(), onDevice.metrics[s].gradNorm(), "gradient norm at step " + s);
            for (int j = 0; j < host.metrics[s].routing().size(); j++) {
                assertArrayEquals(host.metrics[s].routing().get(j).tokensPerExpert(),
                        onDevice.metrics[s].routing().get(j).tokensPerExpert(), "tokens per expert, step " + s);
            }
        }
        int forwards = TINY.moeLayerCount() * (BATCH / TRAIN.microBatch());
        System.out.printf("host waits in the last step: %d routed on the host, %d on the device (%d MoE forwards)%n",
                host.waits, onDevice.waits, forwards);
        // The other waits of a step (the loss, the gradient norm) are the same on both paths; reading the loads once
        // may share one of them.
        assertTrue(host.waits - onDevice.waits >= forwards - 1, "routing on the device saves the wait of each MoE"
                + " forward but one read of the loads: " + host.waits + " waits routed on the host, " + onDevice.waits
                + " on the device, " + forwards + " MoE forwards");
    }

    private record Run(StepMetrics[] metrics, long waits) {
    }

    private static Run run(CudaDevice device, CudaBackend backend) {
        SplittableRandom data = new SplittableRandom(11);
        StepMetrics[] metrics = new StepMetrics[6];
        long waits = 0;
        try (backend; TrainingEngine engine = TrainingEngine.create(TINY, TRAIN, backend, 5)) {
            for (int s = 0; s < metrics.length; s++) {
                long before = device.stats().waits();
                metrics[s] = engine.step(batch(data), BATCH, TINY.maxSeqLen() + 1);
                waits = device.stats().waits() - before;
            }
        }
        return new Run(metrics, waits);
    }

    private static int[] batch(SplittableRandom random) {
        int seq = TINY.maxSeqLen() + 1;
        int[] tokens = new int[BATCH * seq];
        for (int a = 0; a < tokens.length; a++) {
            tokens[a] = random.nextInt(TINY.vocabSize());
        }
        return tokens;
    }
}
