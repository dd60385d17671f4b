package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.cpu.CpuBackend;

/**
 * Backend choice: with a GPU the CUDA backend; without one, {@code cudaOrCpu} gives the CPU backend and a message
 * that says why, and {@code open} fails naming the device. Runs on every machine; which branch it checks depends on
 * the machine, and each branch asserts its own outcome.
 */
class CudaBackendsTest {

    @Test
    void choosesCudaWhereAGpuOpensElseTheCpuWithTheReason() {
        CudaBackends.Choice choice = CudaBackends.cudaOrCpu(new DeviceSelection(0, "test"), GemmPrecision.BF16,
                AttentionPath.GEMM, GroupedGemmPath.CUBLAS, () -> new CpuBackend(1));
        System.out.println(choice.message());
        try (var backend = choice.backend()) {
            if (backend instanceof CudaBackend cuda) {
                assertTrue(choice.message().startsWith("using cuda (device 0"), choice.message());
                assertTrue(cuda.describe().contains("cuBLAS"), cuda.describe());
            } else {
                assertInstanceOf(CpuBackend.class, backend);
                assertTrue(choice.message().startsWith("CUDA device 0 (from test) cannot be opened: ")
                        && choice.message().endsWith("using the CPU backend instead"), choice.message());
            }
        }
    }

    @Test
    void aDeviceThatDoesNotExistFallsBackOrFailsNamingTheDevice() {
        DeviceSelection missing = new DeviceSelection(977, "--device 977");
        CudaBackends.Choice choice = CudaBackends.cudaOrCpu(missing, GemmPrecision.BF16, AttentionPath.GEMM,
                GroupedGemmPath.CUBLAS, () -> new CpuBackend(1));
        try (var backend = choice.backend()) {
            assertInstanceOf(CpuBackend.class, backend);
            assertTrue(choice.message().startsWith("CUDA device 977 (from --device 977) cannot be opened: "),
                    choice.message());
        }
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> CudaBackends.open(missing, GemmPrecision.BF16, AttentionPath.GEMM, GroupedGemmPath.CUBLAS));
        assertTrue(e.getMessage().startsWith("CUDA device 977 (from --device 977) cannot be opened: ")
                && e.getMessage().length() > "CUDA device 977 (from --device 977) cannot be opened: ".length() + 5,
                "names the device, its source and the CUDA error: " + e.getMessage());
    }
}
