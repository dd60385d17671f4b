package org.sparkmoe.model.comm;

/**
 * How the ranks of a {@link Collective} meet and how each learns that its work was called off: a Spark barrier task
 * answers with {@code BarrierTaskContext.allGather} and its kill flag, a test with threads of one process. The
 * transports use the all-gather once, while joining: TCP to exchange listening addresses, NCCL to pass rank 0's
 * unique id.
 */
public interface Rendezvous {

    /** Every rank's {@code message}, indexed by rank; each rank calls this once with its own, all ranks together. */
    String[] allGather(String message);

    /** The host name or address other ranks reach this one at (for TCP). */
    String host();

    /** True once this rank's work has been called off (its task killed); a waiting operation then gives up. */
    boolean cancelled();
}
