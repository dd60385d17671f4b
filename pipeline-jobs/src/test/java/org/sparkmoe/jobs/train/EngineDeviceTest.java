package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.LogCapture;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.CudaBackend;
import org.sparkmoe.model.backend.cuda.GroupedGemmPath;

/**
 * The device and backend choice from the backend/device settings and the task context, on a machine with or without
 * a GPU: device 977 exists on none, so asking for it shows what happens when CUDA cannot be had.
 */
class EngineDeviceTest {

    private static EngineDevice device(String... args) {
        List<String> all = new java.util.ArrayList<>(List.of("--manifest", "m"));
        all.addAll(List.of(args));
        return TrainSettings.from(JobSettings.resolve(new TrainJob(), all)).device();
    }

    @Test
    void cudaAskedForThatCannotBeOpenedFailsNamingTheDeviceItsSourceAndTheCudaError() {
        EngineDevice cuda = device("--backend", "cuda", "--device", "cuda:977", "--run-id", "cuda-977");
        ComputeDevice bound = cuda.bind(null);
        assertEquals(ComputeDevice.cuda(977, "--device 977"), bound);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> cuda.open(bound, 1));
        assertTrue(e.getMessage().startsWith("train run cuda-977: backend=cuda: CUDA device 977 (from --device 977)"
                + " cannot be opened: "), e.getMessage());
        String cudaError = e.getCause().getCause().getMessage();
        assertTrue(cudaError != null && !cudaError.isBlank() && e.getMessage().contains(cudaError),
                "the CUDA error itself is in the message: " + e.getMessage());
    }

    @Test
    void autoFallsBackToTheCpuAndSaysWhichAndWhyOncePerScope() {
        EngineDevice auto = device("--device", "977", "--run-id", "auto-977");
        try (LogCapture log = LogCapture.of("org.sparkmoe")) {
            for (int task = 0; task < 3; task++) {
                try (Backend backend = auto.open(auto.bind(null), 1)) {
                    assertInstanceOf(CpuBackend.class, backend);
                }
            }
            assertEquals(1, log.count("train run auto-977: backend=auto: CUDA device 977 (from --device 977) cannot be"
                    + " opened: "), log.lines().toString());
            assertEquals(1, log.count("using the CPU backend instead"), log.lines().toString());
        }
    }

    @Test
    void tasksWithoutAGpuResourceTrainOnTheCpuAndTheWarningIsSaidOncePerExecutorAndRun() {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(LocalSpark.get().sparkContext());
        try (LogCapture log = LogCapture.of("org.sparkmoe")) {
            for (String run : List.of("run-a", "run-b")) {
                EngineDevice auto = device("--run-id", run);
                for (int round = 0; round < 3; round++) {
                    List<String> bound = sc.parallelize(IntStream.range(0, 4).boxed().toList(), 4)
                            .map(w -> auto.bind(TaskContext.get()).toString()).collect();
                    assertEquals(List.of("cpu", "cpu", "cpu", "cpu"), bound);
                }
                assertEquals(1, log.count("train run " + run + ": backend=auto with no 'gpu' resource in the task"
                        + " context and no --device: the engine runs on the CPU backend"), log.lines().toString());
            }
        }
    }

    @Test
    void cudaWithoutAResourceOrADeviceTakesDeviceZeroAndCpuRefusesADevice() {
        assertEquals(0, device("--backend", "cuda").bind(null).ordinal());
        assertEquals(ComputeDevice.CPU, device("--backend", "cpu").bind(null));
        UsageException e = assertThrows(UsageException.class, () -> device("--backend", "cpu", "--device", "1"));
        assertTrue(e.getMessage().contains("device=1") && e.getMessage().contains("backend=cpu"), e.getMessage());
        UsageException bad = assertThrows(UsageException.class, () -> device("--device", "gpu1"));
        assertTrue(bad.getMessage().contains("device=gpu1"), bad.getMessage());
    }

    @Test
    void theAttentionPathTakesItsFourValuesAndNothingElse() {
        assertEquals(AttentionPath.AUTO, device().attention());
        assertEquals(AttentionPath.GEMM, device("--cuda-attention", "gemm").attention());
        assertEquals(AttentionPath.FUSED, device("--cuda-attention", "fused").attention());
        assertEquals(AttentionPath.FLASH, device("--cuda-attention", "flash").attention());
        UsageException bad = assertThrows(UsageException.class, () -> device("--cuda-attention", "flash2"));
        assertTrue(bad.getMessage().contains("cuda-attention=flash2") && bad.getMessage().contains("auto, gemm, fused or flash"),
                bad.getMessage());
    }

    @Test
    void theGroupedGemmPathTakesItsThreeValuesAndNothingElse() {
        assertEquals(GroupedGemmPath.AUTO, device().groupedGemm());
        assertEquals(GroupedGemmPath.CUBLAS, device("--cuda-grouped-gemm", "cublas").groupedGemm());
        assertEquals(GroupedGemmPath.OWN, device("--cuda-grouped-gemm", "own").groupedGemm());
        assertEquals(GroupedGemmPath.OWN, device("--cuda-grouped-gemm", "own").inScope("evaluation").groupedGemm());
        UsageException bad = assertThrows(UsageException.class, () -> device("--cuda-grouped-gemm", "cutlass"));
        assertTrue(bad.getMessage().contains("cuda-grouped-gemm=cutlass") && bad.getMessage().contains("auto, cublas or own"),
                bad.getMessage());
    }

    @Test
    void onAGpuMachineAutoAndCudaBothOpenDeviceZero() {
        boolean gpu;
        try (Backend backend = device().open(ComputeDevice.cuda(0, "test"), 1)) {
            gpu = backend instanceof CudaBackend;
        }
        Assumptions.assumeTrue(gpu, "no GPU here: auto fell back to the CPU (checked above); this runs on a GPU machine");
        try (Backend backend = device("--backend", "cuda").open(ComputeDevice.cuda(0, "test"), 1)) {
            assertInstanceOf(CudaBackend.class, backend);
        }
    }
}
