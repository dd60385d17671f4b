package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver, NVRTC and NCCL bindings on a real GPU: memory round trips, events, CUDA graph replay, the NVRTC
 * kernel cache, compile errors with their log, a bad launch's error text, and a one-rank NCCL all-reduce.
 * Skipped without a GPU.
 */
class CudaDeviceTest {

    @Test
    void deviceReportsItselfAndRoundTripsMemory() {
        CudaDevice device = GpuTests.device();
        CudaDevice.DeviceInfo info = device.info();
        System.out.println("device: " + info);
        assertTrue(info.multiprocessors() > 0 && info.totalMemoryBytes() > 0, info.toString());
        Random random = Checks.seededRandom("round trip");
        float[] values = Checks.gaussian(random, 123_457, 1);
        try (DeviceBuffer buffer = device.allocate(values.length, ElementType.F32)) {
            buffer.upload(values);
            assertArrayEquals(values, buffer.downloadFloats(values.length));
            buffer.uploadAsBf16(values);
            float[] back = buffer.downloadBf16(values.length);
            for (int i = 0; i < values.length; i++) {
                assertEquals(Bf16.round(values[i]), back[i], "bf16 element " + i);
            }
        }
        long[] memory = device.memoryInfo();
        assertTrue(memory[0] > 0 && memory[0] <= memory[1], "free/total " + memory[0] + "/" + memory[1]);
    }

    @Test
    void graphReplayRepeatsCapturedLaunchesAndEventsTimeThem() {
        CudaDevice device = GpuTests.device();
        int n = 1 << 20;
        try (DeviceBuffer x = device.allocate(n, ElementType.F32)) {
            float[] ones = new float[n];
            java.util.Arrays.fill(ones, 1f);
            x.upload(ones);
            try (CudaGraph graph = CudaGraph.capture(device,
                    () -> device.launch("scale_f32", Dim3.of(256), Dim3.of(256), 0, x, 2f, (long) n))) {
                float millis = device.time(() -> {
                    for (int i = 0; i < 3; i++) {
                        graph.replay();
                    }
                });
                assertTrue(millis > 0, "event time " + millis);
            }
            float[] out = x.downloadFloats(n);
            assertEquals(8f, out[0]);
            assertEquals(8f, out[n - 1]);
        }
    }

    @Test
    void kernelCacheIsHitOnTheSecondBuildAndCompileErrorsCarryTheLog(@TempDir Path cache) throws Exception {
        CudaDevice device = GpuTests.device();
        Nvrtc nvrtc = Nvrtc.load(CudaLibraries.fromEnvironment());
        try (KernelLibrary first = KernelLibrary.build(device.driver(), nvrtc, device.info().architecture(), cache)) {
            assertEquals(0, first.cacheHits());
        }
        try (KernelLibrary second = KernelLibrary.build(device.driver(), nvrtc, device.info().architecture(), cache)) {
            assertEquals(KernelSources.FILES.size(), second.cacheHits());
        }
        try (var files = Files.list(cache)) {
            assertEquals(KernelSources.FILES.size(), files.count());
        }
        CudaException error = assertThrows(CudaException.class, () -> nvrtc.compileToCubin("broken.cu",
                "extern \"C\" __global__ void broken() { undeclared_name = 1; }", List.of("--gpu-architecture=sm_90")));
        System.out.println(error.getMessage());
        assertTrue(error.getMessage().contains("nvrtcCompileProgram(broken.cu") && error.getMessage().contains("undeclared_name"),
                error.getMessage());
    }

    @Test
    void aBadLaunchNamesTheCallAndTheCudaError() {
        CudaDevice device = GpuTests.device();
        CudaException error = assertThrows(CudaException.class,
                () -> device.launch("fill_f32", Dim3.of(1), Dim3.of(4096), 0, 0L, 1f, 0L));
        System.out.println(error.getMessage());
        assertTrue(error.getMessage().contains("cuLaunchKernel(fill_f32)") && error.getMessage().contains("CUDA driver"),
                error.getMessage());
    }

    @Test
    void ncclAllReduceOnOneRankKeepsTheValues() {
        CudaDevice device = GpuTests.device();
        Nccl nccl = Nccl.load(CudaLibraries.fromEnvironment());
        System.out.println("NCCL " + nccl.version());
        var comms = nccl.initAll(new int[] {device.info().ordinal()});
        device.bindToThread();
        float[] values = Checks.gaussian(Checks.seededRandom("nccl"), 4099, 1);
        try (DeviceBuffer buffer = device.allocate(values.length, ElementType.F32)) {
            buffer.upload(values);
            nccl.allReduceSum(buffer, values.length, ElementType.F32, comms[0], device);
            assertArrayEquals(values, buffer.downloadFloats(values.length));
        } finally {
            nccl.destroy(comms[0]);
        }
    }
}
