package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.cpu.CpuBackend;

/**
 * Backend choice: with a GPU the CUDA backend, without one the CPU backend and a message that says why. Runs on
 * every machine; which branch it checks depends on the machine, and each branch asserts its own outcome.
 */
class CudaBackendsTest {

    @Test
    void choosesCudaWhereAGpuOpensElseTheCpuWithTheReason() {
        CudaBackends.Choice choice = CudaBackends.cudaOrCpu(new DeviceSelection(0, "test"), GemmPrecision.BF16,
                () -> new CpuBackend(1));
        System.out.println(choice.message());
        try (var backend = choice.backend()) {
            if (backend instanceof CudaBackend cuda) {
                assertTrue(choice.message().startsWith("Using cuda (device 0"), choice.message());
                assertTrue(cuda.describe().contains("cuBLAS"), cuda.describe());
            } else {
                assertInstanceOf(CpuBackend.class, backend);
                assertTrue(choice.message().startsWith("CUDA backend unavailable (")
                        && choice.message().endsWith("using the CPU backend instead"), choice.message());
            }
        }
    }

    @Test
    void aDeviceThatDoesNotExistFallsBackNamingTheDevice() {
        CudaBackends.Choice choice = CudaBackends.cudaOrCpu(new DeviceSelection(977, "--device 977"),
                GemmPrecision.BF16, () -> new CpuBackend(1));
        try (var backend = choice.backend()) {
            assertInstanceOf(CpuBackend.class, backend);
            assertTrue(choice.message().contains("CUDA backend unavailable"), choice.message());
        }
    }
}
