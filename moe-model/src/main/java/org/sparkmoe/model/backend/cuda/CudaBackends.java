package org.sparkmoe.model.backend.cuda;

import java.util.function.Supplier;
import org.sparkmoe.model.backend.Backend;

/**
 * Chooses the CUDA backend when a GPU can be opened, else the CPU backend, and always says which and why: the
 * reason CUDA could not be used (no driver library, no device, a failed call) is logged as a warning and returned
 * with the choice, never swallowed.
 */
public final class CudaBackends {

    private static final System.Logger LOG = System.getLogger(CudaBackends.class.getName());

    /** The backend chosen and one line saying why. */
    public record Choice(Backend backend, String message) {
    }

    private CudaBackends() {
    }

    /** Opens the selected GPU with {@code precision} GEMMs, or returns {@code cpu.get()} with the reason CUDA is out. */
    public static Choice cudaOrCpu(DeviceSelection selection, GemmPrecision precision, Supplier<Backend> cpu) {
        CudaBackend backend;
        try {
            backend = CudaBackend.open(selection, precision);
        } catch (CudaException | UnsatisfiedLinkError | IllegalArgumentException e) {
            String message = "CUDA backend unavailable (" + e.getMessage() + "); using the CPU backend instead";
            LOG.log(System.Logger.Level.WARNING, message);
            return new Choice(cpu.get(), message);
        }
        return new Choice(backend, "Using " + backend.describe());
    }
}
