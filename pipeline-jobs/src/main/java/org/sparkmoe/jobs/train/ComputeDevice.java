package org.sparkmoe.jobs.train;

import java.io.Serializable;

/**
 * The device one task's engine is bound to, as {@link EngineDevice#bind} chose it: the CPU, or a CUDA device
 * ordinal and where the ordinal came from (a Spark task's {@code gpu} resource address, the {@code device} option,
 * or the default device 0).
 *
 * @param kind    {@code cuda} or {@code cpu}
 * @param ordinal the CUDA device ordinal; -1 for the CPU
 * @param source  where the ordinal came from, for messages; empty for the CPU
 */
public record ComputeDevice(String kind, int ordinal, String source) implements Serializable {

    public static final ComputeDevice CPU = new ComputeDevice("cpu", -1, "");

    public static ComputeDevice cuda(int ordinal, String source) {
        return new ComputeDevice("cuda", ordinal, source);
    }

    public boolean isCuda() {
        return kind.equals("cuda");
    }

    @Override
    public String toString() {
        return isCuda() ? "cuda:" + ordinal : "cpu";
    }
}
