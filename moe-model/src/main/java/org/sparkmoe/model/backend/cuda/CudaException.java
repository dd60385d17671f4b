package org.sparkmoe.model.backend.cuda;

/**
 * A CUDA library call failed, or a CUDA library could not be found or loaded. The message names the call
 * (for example {@code cuMemAlloc_v2}), the status code and the library's own error string.
 */
public final class CudaException extends RuntimeException {

    public CudaException(String message) {
        super(message);
    }

    public CudaException(String message, Throwable cause) {
        super(message, cause);
    }

    static CudaException callFailed(String library, String call, int status, String errorString) {
        return new CudaException(library + " call " + call + " failed with status " + status + ": " + errorString);
    }
}
