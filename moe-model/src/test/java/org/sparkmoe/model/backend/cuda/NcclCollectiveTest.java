package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.testing.ThreadRanks;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The NCCL collective with one rank on the one GPU (what a single-GPU machine can run): joining through the
 * rendezvous (rank 0's unique id), every operation in place on device tensors — sum and mean leave the values as
 * they are, all-gather and broadcast copy (and the host values' gather), the all-to-all's grouped ncclSend/ncclRecv to itself moves uneven
 * blocks of fp32 rows and int32 ids — and the engine's data-parallel step through it equals a plain step bit for
 * bit. Skipped without a GPU. Run with {@code NCCL_NVLS_ENABLE=0} (scripts/gpu/run.sh sets it).
 */
class NcclCollectiveTest {

    @Test
    void oneRankRunsEveryOperationInPlaceOnTheDevice() {
        CudaDevice device = GpuTests.device();
        float[] values = Checks.gaussian(Checks.seededRandom("nccl collective"), 4099, 1);
        List<Object> done = new ThreadRanks(1).run((rank, rendezvous) -> {
            device.bindToThread();
            try (CudaBackend backend = new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM);
                 Collective collective = backend.joinCollective(rank, 1, rendezvous)) {
                System.out.println(collective.describe());
                Tensor t = backend.allocate("x", DType.F32, values.length);
                backend.upload(values, 0, t, 0, values.length);
                collective.allReduceSum(t);
                collective.allReduceMean(t);
                collective.broadcast(t, 0);
                assertArrayEquals(values, download(backend, t, values.length));

                Tensor gathered = backend.allocate("gathered", DType.F32, values.length);
                collective.allGather(t, gathered);
                assertArrayEquals(values, download(backend, gathered, values.length));

                Tensor received = backend.allocate("received", DType.F32, 3000);
                collective.allToAll(t, new long[] {3000}, received, new long[] {3000});
                assertArrayEquals(java.util.Arrays.copyOf(values, 3000), download(backend, received, 3000));

                assertArrayEquals(new long[] {7, -3}, collective.gatherValues(new long[] {7, -3}));

                Tensor ids = backend.allocate("ids", DType.I32, 5);
                backend.uploadInts(new int[] {4, 3, 2, 1, 0}, 0, ids, 0, 5);
                Tensor idsBack = backend.allocate("ids back", DType.I32, 5);
                collective.allToAll(ids, new long[] {5}, idsBack, new long[] {5});
                int[] back = new int[5];
                backend.downloadInts(idsBack, 0, back, 0, 5);
                assertArrayEquals(new int[] {4, 3, 2, 1, 0}, back);
                return null;
            }
        });
        assertEquals(1, done.size());
    }

    @Test
    void theDataParallelStepOfOneRankIsThePlainStep() {
        CudaDevice device = GpuTests.device();
        ModelConfig tiny = ModelPresets.load("tiny");
        TrainConfig train = new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, 4);
        int seq = tiny.maxSeqLen() + 1;
        int[] tokens = new SplittableRandom(5).ints(4L * seq, 0, tiny.vocabSize()).toArray();
        List<float[]> params = new ThreadRanks(1).run((rank, rendezvous) -> {
            device.bindToThread();
            try (TrainingEngine plain = TrainingEngine.create(tiny, train,
                         new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM), 3);
                 TrainingEngine parallel = TrainingEngine.create(tiny, train,
                         new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM), 3)) {
                CudaBackend backend = new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM);
                try (Collective collective = backend.joinCollective(rank, 1, rendezvous)) {
                    for (int step = 0; step < 3; step++) {
                        plain.step(tokens, 4, seq);
                        parallel.step(tokens, 4, seq, collective::allReduceMean);
                    }
                } finally {
                    backend.close();
                }
                float[] a = new float[Math.toIntExact(plain.parameterCount())];
                float[] b = new float[Math.toIntExact(parallel.parameterCount())];
                plain.readParameters(a);
                parallel.readParameters(b);
                assertArrayEquals(a, b, "the mean over one rank is the gradient itself");
                return a;
            }
        });
        assertEquals(1, params.size());
    }

    private static float[] download(CudaBackend backend, Tensor t, int n) {
        float[] out = new float[n];
        backend.download(t, 0, out, 0, n);
        return out;
    }
}
