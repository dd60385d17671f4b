package org.sparkmoe.model.backend.cuda;

import java.lang.foreign.MemorySegment;
import java.util.Base64;
import java.util.concurrent.locks.LockSupport;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Notices;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.JoinMessages;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * The CUDA backend's {@link Collective}: one NCCL communicator per rank (one process or task per GPU), joined through
 * the rendezvous's all-gather of rank 0's unique id; every operation runs in place on the device's stream, on the
 * engine's own device tensors. The all-to-all is a group of {@code ncclSend}/{@code ncclRecv} pairs, one per peer
 * (itself included), issued together between {@code ncclGroupStart} and {@code ncclGroupEnd}. Every operation marks
 * the tensor it writes as {@link CudaTensor#written() written}, so a parameter arena's bf16 image is cast again before
 * its next use (averaged parameters, a broadcast from rank 0).
 *
 * <p>Each operation returns when the stream has finished it. The wait polls the stream rather than blocking in the
 * driver, so a rank whose peer failed (NCCL's asynchronous error) or whose task was killed aborts the communicator
 * and throws instead of hanging. A rank that dies while the others are still inside {@code ncclCommInitRank} is not
 * caught that way: NCCL's blocking init waits for it.
 */
public final class NcclCollective implements Collective {

    private static final System.Logger LOG = System.getLogger(NcclCollective.class.getName());
    private static final String TRANSPORT = "nccl";
    private static final long POLL_NANOS = 20_000;

    private final Nccl nccl;
    private final CudaDevice device;
    private final MemorySegment communicator;
    private final int rank;
    private final int size;
    private final Rendezvous rendezvous;
    private boolean aborted;

    private NcclCollective(Nccl nccl, CudaDevice device, MemorySegment communicator, int rank, int size,
                           Rendezvous rendezvous) {
        this.nccl = nccl;
        this.device = device;
        this.communicator = communicator;
        this.rank = rank;
        this.size = size;
        this.rendezvous = rendezvous;
    }

    /** Joins as {@code rank} of {@code size} on {@code device}: rank 0 makes the unique id, every rank initialises. */
    static NcclCollective join(CudaDevice device, int rank, int size, Rendezvous rendezvous) {
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("collective rank " + rank + " of " + size + ": need 0 <= rank < size");
        }
        if (!"0".equals(System.getenv("NCCL_NVLS_ENABLE"))) {
            LOG.log(System.Logger.Level.WARNING, "NCCL_NVLS_ENABLE is not 0: NVLink multicast may be used; set"
                    + " NCCL_NVLS_ENABLE=0 in the executors' environment where it is not supported");
        }
        Nccl nccl = Nccl.load(CudaLibraries.fromEnvironment());
        String mine = rank == 0 ? Base64.getEncoder().encodeToString(nccl.uniqueId()) : "-";
        String[] all = JoinMessages.payloads(rendezvous.allGather(JoinMessages.of(TRANSPORT, mine)), TRANSPORT, rank, size);
        device.bindToThread();
        MemorySegment communicator = nccl.initRank(size, Base64.getDecoder().decode(all[0]), rank);
        NcclCollective collective = new NcclCollective(nccl, device, communicator, rank, size, rendezvous);
        // Spark's barrier tasks join once per round: the line is said once per process and rank.
        LOG.log(Notices.first("joined " + collective.describe()) ? System.Logger.Level.INFO
                : System.Logger.Level.DEBUG, "joined {0}", collective.describe());
        return collective;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public String describe() {
        return "nccl collective (rank " + rank + " of " + size + ", NCCL " + nccl.version() + ", CUDA device "
                + device.info().ordinal() + ")";
    }

    @Override
    public void allReduceSum(Tensor t) {
        CudaTensor c = fp32(t, "allReduceSum").written();
        nccl.allReduce(c.pointer(), c.size(), Nccl.NCCL_FLOAT32, Nccl.NCCL_SUM, communicator, device);
        await("allReduceSum");
    }

    @Override
    public void allReduceMean(Tensor t) {
        CudaTensor c = fp32(t, "allReduceMean").written();
        nccl.allReduce(c.pointer(), c.size(), Nccl.NCCL_FLOAT32, Nccl.NCCL_AVG, communicator, device);
        await("allReduceMean");
    }

    @Override
    public void allGather(Tensor send, Tensor recv) {
        CudaTensor in = CudaTensor.of(send);
        CudaTensor out = CudaTensor.of(recv).written();
        if (out.size() != size * in.size() || in.dtype() != out.dtype()) {
            throw new IllegalArgumentException("allGather: " + out.name() + " (" + out.size() + " " + out.dtype()
                    + ") must hold " + size + " ranks x " + in.size() + " " + in.dtype());
        }
        nccl.allGather(in.pointer(), out.pointer(), in.size(), type(in), communicator, device);
        await("allGather");
    }

    @Override
    public long[] gatherValues(long[] values) {
        long[] host = new long[size * values.length];
        System.arraycopy(values, 0, host, rank * values.length, values.length);
        try (DeviceBuffer all = new DeviceBuffer(device, 8L * Math.max(1, host.length))) {
            all.upload(host);
            // In place: this rank's block already sits where the gather puts it.
            nccl.allGather(all.pointer() + 8L * rank * values.length, all.pointer(), values.length, Nccl.NCCL_INT64,
                    communicator, device);
            await("gatherValues");
            return all.downloadLongs(size * values.length);
        }
    }

    @Override
    public void broadcast(Tensor t, int root) {
        if (root < 0 || root >= size) {
            throw new IllegalArgumentException("broadcast root " + root + " is not a rank of " + size);
        }
        CudaTensor c = CudaTensor.of(t).written();
        nccl.broadcast(c.pointer(), c.size(), type(c), root, communicator, device);
        await("broadcast from rank " + root);
    }

    @Override
    public void allToAll(Tensor send, long[] sendCounts, Tensor recv, long[] recvCounts) {
        CudaTensor out = CudaTensor.of(send);
        CudaTensor in = CudaTensor.of(recv).written();
        if (out.dtype() != in.dtype()) {
            throw new IllegalArgumentException("allToAll: " + out.name() + " is " + out.dtype() + " but " + in.name()
                    + " is " + in.dtype());
        }
        long[] sendAt = offsets(sendCounts, out, "send");
        long[] recvAt = offsets(recvCounts, in, "receive");
        int type = type(out);
        nccl.groupStart();
        try {
            for (int p = 0; p < size; p++) {
                nccl.send(out.pointer(sendAt[p]), sendCounts[p], type, p, communicator, device);
                nccl.recv(in.pointer(recvAt[p]), recvCounts[p], type, p, communicator, device);
            }
        } finally {
            nccl.groupEnd();
        }
        await("allToAll");
    }

    private long[] offsets(long[] counts, CudaTensor t, String what) {
        if (counts.length != size) {
            throw new IllegalArgumentException("allToAll: " + counts.length + " " + what + " counts for " + size + " ranks");
        }
        long[] at = new long[size];
        long total = 0;
        for (int p = 0; p < size; p++) {
            if (counts[p] < 0) {
                throw new IllegalArgumentException("allToAll: negative " + what + " count " + counts[p] + " for rank " + p);
            }
            at[p] = total;
            total += counts[p];
        }
        if (total > t.size()) {
            throw new IllegalArgumentException("allToAll: the " + what + " counts add up to " + total + " elements but "
                    + t.name() + " holds " + t.size());
        }
        return at;
    }

    private static CudaTensor fp32(Tensor t, String operation) {
        CudaTensor c = CudaTensor.of(t);
        if (c.dtype() != DType.F32) {
            throw new IllegalArgumentException(operation + " sums fp32 tensors; " + t.name() + " is " + t.dtype());
        }
        return c;
    }

    private static int type(CudaTensor t) {
        return t.dtype() == DType.F32 ? Nccl.NCCL_FLOAT32 : Nccl.NCCL_INT32;
    }

    /** Waits for the stream, giving up (and aborting the communicator) on a peer's failure or a kill. */
    private void await(String operation) {
        if (aborted) {
            throw new IllegalStateException(describe() + " was aborted after a failure and cannot run " + operation);
        }
        while (!device.driver().streamIdle(device.stream())) {
            int error = nccl.asyncError(communicator);
            if (error != 0) {
                abort();
                throw new CudaException(describe() + ": " + operation + " failed: NCCL reports " + error + " ("
                        + nccl.errorText(error) + "); a peer rank failed or its process was lost");
            }
            if (rendezvous.cancelled() || Thread.currentThread().isInterrupted()) {
                abort();
                throw new IllegalStateException(describe() + ": " + operation + " called off (the task was killed)");
            }
            LockSupport.parkNanos(POLL_NANOS);
        }
    }

    private void abort() {
        aborted = true;
        nccl.abort(communicator);
    }

    @Override
    public void close() {
        if (!aborted) {
            nccl.destroy(communicator);
        }
    }
}
