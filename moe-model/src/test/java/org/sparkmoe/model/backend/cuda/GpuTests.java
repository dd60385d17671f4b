package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The one GPU the GPU tests share, opened once per JVM. Where none can be opened (CI has no GPU), every GPU test is
 * skipped with the reason, for example "CUDA driver not found: looked for [libcuda.so.1, ...]".
 */
final class GpuTests {

    private static CudaDevice device;
    private static String unavailableReason;

    private GpuTests() {
    }

    static synchronized CudaDevice device() {
        if (device == null && unavailableReason == null) {
            try {
                device = CudaDevice.open(new DeviceSelection(0, "GPU tests"));
            } catch (CudaException | IllegalArgumentException e) {
                unavailableReason = e.getMessage();
            }
        }
        assumeTrue(device != null, () -> "no GPU, GPU test skipped: " + unavailableReason);
        device.bindToThread();
        return device;
    }
}
