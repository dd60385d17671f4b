package org.sparkmoe.model.backend.cuda;

import java.util.function.Supplier;
import org.sparkmoe.model.backend.Backend;

/**
 * Opens the CUDA backend on a chosen device, in the two ways a caller can ask for it: {@link #open} when the user
 * asked for CUDA (a GPU that cannot be opened is an error naming the device, where its ordinal came from and the
 * CUDA error), and {@link #cudaOrCpu} when CUDA is wanted only if it is there (the CPU backend otherwise, with one
 * line saying which was chosen and why, for the caller to log once). Neither falls back silently.
 */
public final class CudaBackends {

    /** The backend chosen and one line saying which and why. */
    public record Choice(Backend backend, String message) {
    }

    private CudaBackends() {
    }

    /**
     * The CUDA backend on the selected device, or an {@link IllegalStateException} naming the device, its source and
     * the CUDA error (no driver library, no such device, a failed call).
     */
    public static CudaBackend open(DeviceSelection selection, GemmPrecision precision, AttentionPath attentionPath,
            GroupedGemmPath groupedPath) {
        try {
            return CudaBackend.open(selection, precision, attentionPath, groupedPath);
        } catch (CudaException | UnsatisfiedLinkError | IllegalArgumentException e) {
            throw new IllegalStateException(unavailable(selection, e), e);
        }
    }

    /** The CUDA backend on the selected device if it opens, else {@code cpu.get()}; the message says which and why. */
    public static Choice cudaOrCpu(DeviceSelection selection, GemmPrecision precision, AttentionPath attentionPath,
            GroupedGemmPath groupedPath, Supplier<Backend> cpu) {
        CudaBackend backend;
        try {
            backend = CudaBackend.open(selection, precision, attentionPath, groupedPath);
        } catch (CudaException | UnsatisfiedLinkError | IllegalArgumentException e) {
            return new Choice(cpu.get(), unavailable(selection, e) + "; using the CPU backend instead");
        }
        return new Choice(backend, "using " + backend.describe());
    }

    private static String unavailable(DeviceSelection selection, Throwable e) {
        return "CUDA device " + selection.ordinal() + " (from " + selection.source() + ") cannot be opened: "
                + e.getMessage();
    }
}
