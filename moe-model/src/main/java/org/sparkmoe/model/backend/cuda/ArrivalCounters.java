package org.sparkmoe.model.backend.cuda;

/**
 * The device counters of the kernels that finish a grid-wide reduction in their last block to arrive
 * ({@code last_block_arrived} in {@code common.cuh}): zero when allocated, and every launch leaves its counter at
 * zero again. One counter per kernel, so launches of different kernels never share one.
 */
final class ArrivalCounters implements AutoCloseable {

    /** The kernels that count their blocks' arrivals. */
    enum Kernel {
        CROSS_ENTROPY,
        ROUTER_FORWARD,
        BALANCE_COEFFICIENTS
    }

    private final DeviceBuffer counters;

    ArrivalCounters(CudaDevice device) {
        this.counters = new DeviceBuffer(device, 4L * Kernel.values().length);
        counters.fill32(0);
    }

    /** The address of {@code kernel}'s counter. */
    long of(Kernel kernel) {
        return counters.pointer() + 4L * kernel.ordinal();
    }

    @Override
    public void close() {
        counters.close();
    }
}
