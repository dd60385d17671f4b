package org.sparkmoe.model.comm;

import org.sparkmoe.model.backend.Tensor;

/**
 * A group of {@link #size()} ranks (one per worker task or device) that exchange an engine's own tensors: the sums of
 * parameter averaging and data-parallel training, and the gathers and all-to-all with which expert parallelism
 * dispatches token rows. A collective is joined from a backend ({@code Backend.joinCollective}) and works on that
 * backend's tensors in place: host memory over TCP on the CPU backend, device memory through NCCL on the device's
 * stream on the CUDA backend.
 *
 * <p>Contract, as with MPI and NCCL: every rank calls the same operations in the same order with matching sizes;
 * elements are 4 bytes (fp32, or int32 where an operation allows it); counts are in elements. An operation returns
 * when this rank's part is complete. A rank whose peer fails (closed connection, lost process) or whose work is called
 * off ({@link Rendezvous#cancelled()}) gets an exception instead of waiting for ever; the collective is then unusable.
 */
public interface Collective extends AutoCloseable {

    /** This rank, in {@code [0, size)}. */
    int rank();

    /** The number of ranks. */
    int size();

    /** One line naming the transport and this rank (for logs). */
    String describe();

    /** {@code t = Σ_ranks t} in place (fp32). */
    void allReduceSum(Tensor t);

    /** {@code t = (Σ_ranks t) / size} in place (fp32). */
    void allReduceMean(Tensor t);

    /**
     * {@code recv[r·n, (r+1)·n) = send of rank r} for every rank r, where n is {@code send}'s size and {@code recv}
     * holds {@code size · n} elements (fp32 or int32, the same on every rank).
     */
    void allGather(Tensor send, Tensor recv);

    /** Every rank's {@code t} becomes rank {@code root}'s. */
    void broadcast(Tensor t, int root);

    /**
     * Each rank sends {@code sendCounts[p]} elements to peer p, taken from {@code send} peer after peer in rank
     * order, and receives {@code recvCounts[p]} elements from peer p into {@code recv}, peer after peer in rank order
     * (the dispatch and combine of expert parallelism: token rows by destination). {@code recvCounts[p]} must equal
     * what peer p sends here (exchange the counts first, e.g. with an all-to-all of one count per peer); a mismatch
     * fails on the receiving rank. Counts may be zero.
     */
    void allToAll(Tensor send, long[] sendCounts, Tensor recv, long[] recvCounts);

    /**
     * Every rank's {@code values}, rank after rank ({@code size · values.length} longs): small control data kept on
     * the host, such as flags or the per-peer row counts an all-to-all needs first. Every rank passes as many values.
     */
    long[] gatherValues(long[] values);

    /** Leaves the collective and frees its connections or communicator. */
    @Override
    void close();
}
