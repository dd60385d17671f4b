package org.sparkmoe.model.train;

/**
 * An engine's estimated memory exceeds what its backend has free; thrown before anything is allocated. The message
 * names the bytes needed and available and the settings that would fit.
 */
public final class ModelDoesNotFitException extends IllegalArgumentException {

    private final MemoryEstimate estimate;
    private final long availableBytes;

    ModelDoesNotFitException(String message, MemoryEstimate estimate, long availableBytes) {
        super(message);
        this.estimate = estimate;
        this.availableBytes = availableBytes;
    }

    public MemoryEstimate estimate() {
        return estimate;
    }

    public long availableBytes() {
        return availableBytes;
    }
}
