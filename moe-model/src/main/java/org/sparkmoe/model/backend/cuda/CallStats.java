package org.sparkmoe.model.backend.cuda;

import java.util.Locale;

/**
 * Counts of the host-side calls a device does, and the host time spent blocked in those that wait for the device
 * (stream synchronisations and the synchronous copies). A step whose wall time is mostly blocked time is bound by the
 * GPU; one with little blocked time is bound by the host issuing launches. One instance per device, one thread.
 */
public final class CallStats {

    long launches;
    long gemms;
    long waits;
    long blockedNanos;

    /** Kernel launches since the last reset. */
    public long launches() {
        return launches;
    }

    /** cuBLAS GEMM calls (plain, strided batched or grouped) since the last reset. */
    public long gemms() {
        return gemms;
    }

    /** Host calls that waited for the device (synchronise, synchronous copy) since the last reset. */
    public long waits() {
        return waits;
    }

    /** Host time blocked in those calls, in milliseconds. */
    public double blockedMillis() {
        return blockedNanos / 1e6;
    }

    public void reset() {
        launches = 0;
        gemms = 0;
        waits = 0;
        blockedNanos = 0;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%d launches, %d GEMM calls, %d waits (%.1f ms blocked)", launches, gemms,
                waits, blockedMillis());
    }
}
