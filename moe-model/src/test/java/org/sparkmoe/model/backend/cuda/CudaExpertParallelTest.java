package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GrowingTensor;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.testing.MoeLayerPass;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.testing.ThreadRanks;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The expert-parallel path on the CUDA backend with one rank over NCCL (what one GPU can run): the MoE layer's
 * exchange runs in full — the counts' all-to-all through host and device, the token rows' all-to-all to itself, the
 * row permutations on the device, and back — and must equal the CPU backend's layer holding every expert with no
 * exchange: expert choices identical; output, input gradient and every parameter gradient within the fp32 tolerance
 * (relative 2-norm 1e-5, fp32 GEMMs); balance losses within 1e-5 relative. The engine's expert-parallel step over
 * one NCCL rank (gradient reduction, gradient norm over the experts, batch-shape check) gives the CPU engine's loss
 * curve; a buffer that grows with the routing frees its predecessor on the device. Skipped without a GPU. Run with {@code NCCL_NVLS_ENABLE=0} (scripts/gpu/run.sh sets it).
 */
class CudaExpertParallelTest {

    /** tiny reduced to one MoE layer (8 routed experts top-2, one shared), both balance losses on, one device group. */
    private static final ModelConfig LAYER = TestConfigs.preset("tiny", "num_hidden_layers=1",
            "first_k_dense_replace=0", "vocab_size=256", "max_position_embeddings=16", "init_std=0.05",
            "device_loss_alpha=0.05");
    private static final int BATCH = 4;
    private static final int SEQ = 16;
    private static final long SEED = 7;

    @Test
    void theMoeLayerThroughTheAllToAllOnOneNcclRankIsTheCpuLayer() {
        CudaDevice device = GpuTests.device();
        Random random = Checks.seededRandom("expert-parallel layer on one NCCL rank");
        int rows = BATCH * SEQ;
        int d = LAYER.hiddenSize();
        float[] x = Checks.gaussian(random, rows * d, 1);
        float[] g = Checks.gaussian(random, rows * d, 1);
        int[] tokens = random.ints(rows, 0, LAYER.vocabSize()).toArray();
        List<MoeLayerPass.Result> onGpu = new ThreadRanks(1).run((rank, rendezvous) -> {
            device.bindToThread();
            CudaBackend backend = new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM);
            try (Collective collective = backend.joinCollective(rank, 1, rendezvous)) {
                DeepSeekMoeModel model = new DeepSeekMoeModel(LAYER, backend, rows, collective);
                model.initialize(SEED);
                return MoeLayerPass.run(model, backend, x, tokens, g, BATCH, SEQ);
            } finally {
                backend.close();
            }
        });
        MoeLayerPass.Result gpu = onGpu.getFirst();
        MoeLayerPass.Result cpu;
        try (CpuBackend backend = new CpuBackend(2)) {
            DeepSeekMoeModel model = new DeepSeekMoeModel(LAYER, backend, rows);
            model.initialize(SEED);
            cpu = MoeLayerPass.run(model, backend, x, tokens, g, BATCH, SEQ);
        }
        assertArrayEquals(cpu.choices_RK(), gpu.choices_RK(), "expert choices");
        Checks.assertClose("EP layer out", gpu.out_RD(), cpu.out_RD(), Checks.FP32_TOLERANCE);
        Checks.assertClose("EP layer dx", gpu.dx_RD(), cpu.dx_RD(), Checks.FP32_TOLERANCE);
        assertEquals(cpu.grads().keySet(), gpu.grads().keySet());
        for (var e : cpu.grads().entrySet()) {
            Checks.assertClose("EP " + e.getKey(), gpu.grads().get(e.getKey()), e.getValue(), Checks.FP32_TOLERANCE);
        }
        assertEquals(cpu.expertLoss(), gpu.expertLoss(), 1e-5 * cpu.expertLoss(), "expert loss");
        assertEquals(cpu.deviceLoss(), gpu.deviceLoss(), 1e-5 * cpu.deviceLoss(), "device loss");
    }

    /** One rank receives no more than its own slots, so growth (a second rank's imbalance) is checked on its own. */
    @Test
    void aGrowingBufferFreesItsPredecessorAndKeepsNoStaleRows() {
        CudaDevice device = GpuTests.device();
        try (CudaBackend backend = new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM)) {
            GrowingTensor rows = new GrowingTensor(backend, "growing", DType.F32, 3, 2, 100);
            Tensor first = rows.rows(2);
            Tensor grown = rows.rows(10);
            assertEquals(12, rows.capacityRows(), "a quarter more than needed");
            assertEquals(36, grown.size());
            float[] values = Checks.gaussian(Checks.seededRandom("growing tensor"), 30, 1);
            backend.upload(values, 0, grown, 0, 30);
            float[] back = new float[30];
            backend.download(grown, 0, back, 0, 30);
            assertArrayEquals(values, back);
            assertThrows(IllegalArgumentException.class, () -> backend.free(first), "already freed");
            assertThrows(IllegalArgumentException.class, () -> backend.free(backend.view(grown, "part", 3, 3)));
            assertThrows(IllegalArgumentException.class, () -> rows.rows(101));
        }
    }

    @Test
    void theExpertParallelStepOnOneNcclRankFollowsTheCpuLossCurve() {
        CudaDevice device = GpuTests.device();
        ModelConfig tiny = TestConfigs.preset("tiny", "device_loss_alpha=0.05");
        TrainConfig train = new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, 2);
        int seq = tiny.maxSeqLen() + 1;
        int steps = 5;
        int[] tokens = Checks.seededRandom("expert-parallel step tokens").ints(4L * seq, 0, tiny.vocabSize()).toArray();
        List<double[]> onGpu = new ThreadRanks(1).run((rank, rendezvous) -> {
            device.bindToThread();
            CudaBackend backend = new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM);
            try (Collective collective = backend.joinCollective(rank, 1, rendezvous);
                 TrainingEngine engine = TrainingEngine.create(tiny, train, backend, 3, collective)) {
                double[] curve = new double[2 * steps];
                for (int s = 0; s < steps; s++) {
                    StepMetrics m = engine.step(tokens, 4, seq);
                    curve[2 * s] = m.loss();
                    curve[2 * s + 1] = m.gradNorm();
                }
                return curve;
            }
        });
        try (TrainingEngine cpu = TrainingEngine.create(tiny, train, new CpuBackend(2), 3)) {
            for (int s = 0; s < steps; s++) {
                StepMetrics m = cpu.step(tokens, 4, seq);
                double[] gpu = onGpu.getFirst();
                System.out.printf("step %d: loss cpu %.7f gpu %.7f, grad norm cpu %.6f gpu %.6f%n", s, m.loss(),
                        gpu[2 * s], m.gradNorm(), gpu[2 * s + 1]);
                assertEquals(m.loss(), gpu[2 * s], 1e-5 * m.loss(), "step " + s + " loss");
                assertEquals(m.gradNorm(), gpu[2 * s + 1], 1e-4 * m.gradNorm(), "step " + s + " gradient norm");
            }
        }
    }
}
