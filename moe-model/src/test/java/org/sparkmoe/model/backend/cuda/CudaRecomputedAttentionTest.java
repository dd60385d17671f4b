package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * {@code recompute-attention} on the GPU: an engine that computes each layer's q, k, v again in backward (bf16
 * projections of the held normed input, RoPE) trains bit for bit as the one that keeps them (losses, gradient norms,
 * parameters after steps of two micro-batches), on the FLASH and GEMM attention paths with bf16 GEMMs and the
 * grouped GEMM path AUTO picks, and allocates 3·R·D fp32 less per layer but one. Skipped without a GPU.
 */
class CudaRecomputedAttentionTest {

    /** {@code tiny} at width 128 with 2 heads: head dim 64, which the FLASH kernels take. */
    private static final ModelConfig TINY = TestConfigs.preset("tiny", "hidden_size=128", "num_attention_heads=2",
            "moe_intermediate_size=64", "num_hidden_layers=3");
    private static final TrainConfig TRAIN =
            new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, 2);
    private static final int BATCH = 4;
    private static final int SEQ = TINY.maxSeqLen() + 1;
    private static final int STEPS = 8;

    @ParameterizedTest
    @EnumSource(value = AttentionPath.class, names = {"FLASH", "GEMM"})
    void recomputingQKVTrainsBitForBitAsKeepingThem(AttentionPath attention) {
        CudaDevice device = GpuTests.device();
        CudaBackend keptBackend = new CudaBackend(device, GemmPrecision.BF16, attention);
        CudaBackend recomputedBackend = new CudaBackend(device, GemmPrecision.BF16, attention);
        try (TrainingEngine kept = TrainingEngine.create(TINY, TRAIN, keptBackend, 5);
             TrainingEngine recomputed = TrainingEngine.create(TINY, TRAIN.withRecomputeAttention(true),
                     recomputedBackend, 5)) {
            long rows = (long) TRAIN.microBatch() * TINY.maxSeqLen();
            assertEquals(4L * 3 * rows * TINY.hiddenSize() * (TINY.numLayers() - 1),
                    keptBackend.allocatedBytes() - recomputedBackend.allocatedBytes(), "q, k, v of all layers but one");
            SplittableRandom data = new SplittableRandom(11);
            double first = 0;
            double last = 0;
            for (int s = 0; s < STEPS; s++) {
                int[] tokens = data.ints((long) BATCH * SEQ, 0, TINY.vocabSize()).toArray();
                StepMetrics a = kept.step(tokens, BATCH, SEQ);
                StepMetrics b = recomputed.step(tokens, BATCH, SEQ);
                assertEquals(a.loss(), b.loss(), 0, attention + ": loss at step " + s);
                assertEquals(a.gradNorm(), b.gradNorm(), 0, attention + ": gradient norm at step " + s);
                first = s == 0 ? a.loss() : first;
                last = a.loss();
            }
            float[] keptParameters = new float[Math.toIntExact(kept.parameterCount())];
            float[] recomputedParameters = new float[keptParameters.length];
            kept.readParameters(keptParameters);
            recomputed.readParameters(recomputedParameters);
            assertArrayEquals(keptParameters, recomputedParameters, attention + ": parameters");
            System.out.printf("%s attention, q/k/v recomputed vs kept: %d steps bit for bit, loss %.5f -> %.5f%n",
                    attention, STEPS, first, last);
        }
    }
}
