package org.sparkmoe.model.backend.cpu;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Notices;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.JoinMessages;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * The CPU backend's {@link Collective}: the ranks' processes talk TCP, one connection per pair of ranks (joined
 * through the rendezvous's all-gather of listening addresses), all driven by one selector on the calling thread, so a
 * rank sends and receives at the same time and no pair can block on full socket buffers.
 *
 * <ul>
 *   <li><b>All-reduce</b>: a ring, reduce-scatter then all-gather, W-1 steps each; in every step each rank sends one
 *   of W chunks to its right neighbour while adding (then copying) the chunk arriving from its left, so every rank
 *   sends and receives 2(W-1)/W of the tensor whatever W is. Partial sums travel and accumulate in fp32, in ring
 *   order: chunk c's sum is {@code ((x_c + x_{c+1}) + x_{c+2}) + ...}, the same on every run for a given W. Against
 *   the exact sum each element is off by at most (W-1)·2⁻²⁴·Σ|x| (recursive summation); for W = 2 the single addition
 *   is the correctly rounded sum.</li>
 *   <li><b>All-gather, broadcast, all-to-all</b>: every pair exchanges its block directly, in one step.</li>
 * </ul>
 *
 * <p>Wire format: each transfer is an 8-byte length, then the elements' bytes in native order (the hello checks both
 * ends agree on it). The length lets a receiver name a size mismatch instead of misreading the stream. Bytes move
 * through 1 MiB direct buffers per connection, so a tensor's memory ({@link CpuTensor#segment}) may be on the heap
 * or off it.
 */
public final class TcpCollective implements Collective {

    private static final System.Logger LOG = System.getLogger(TcpCollective.class.getName());
    private static final String TRANSPORT = "tcp";
    private static final int HELLO_MAGIC = 0x534d4331;
    private static final int HELLO_BYTES = 16;
    private static final int PIECE = 1 << 20;
    private static final int SOCKET_BUFFER = 4 << 20;
    private static final long POLL_MILLIS = 200;
    private static final long JOIN_TIMEOUT_MILLIS = 120_000;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final int rank;
    private final int size;
    private final Rendezvous rendezvous;
    private final Link[] links;
    private final Selector selector;
    private boolean broken;

    private TcpCollective(int rank, int size, Rendezvous rendezvous, Link[] links, Selector selector) {
        this.rank = rank;
        this.size = size;
        this.rendezvous = rendezvous;
        this.links = links;
        this.selector = selector;
    }

    /**
     * Joins as {@code rank} of {@code size}: listens on an ephemeral port, all-gathers every rank's address and a
     * random token through {@code rendezvous}, connects to the higher ranks and accepts the lower ones (each
     * connection proves its rank with that rank's token).
     */
    public static TcpCollective join(int rank, int size, Rendezvous rendezvous) {
        if (size < 1 || rank < 0 || rank >= size) {
            throw new IllegalArgumentException("collective rank " + rank + " of " + size + ": need 0 <= rank < size");
        }
        long token = new SecureRandom().nextLong();
        Link[] links = new Link[size];
        Selector selector = null;
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER);
            listener.bind(new InetSocketAddress(0), Math.max(16, size));
            listener.configureBlocking(false);
            int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
            String[] peers = JoinMessages.payloads(rendezvous.allGather(JoinMessages.of(TRANSPORT,
                    rendezvous.host() + " " + port + " " + Long.toHexString(token))), TRANSPORT, rank, size);
            selector = Selector.open();
            long deadline = System.currentTimeMillis() + JOIN_TIMEOUT_MILLIS;
            for (int p = rank + 1; p < size; p++) {
                String[] address = peers[p].split(" ");
                SocketChannel channel = SocketChannel.open();
                tune(channel);
                channel.socket().connect(new InetSocketAddress(address[0], Integer.parseInt(address[1])), 30_000);
                channel.configureBlocking(false);
                sendHello(channel, rank, token, deadline, rendezvous);
                long theirs = readHello(channel, deadline, rendezvous, peers[p]);
                checkHello(theirs, p, peers);
                links[p] = new Link(p, peers[p], channel, selector);
            }
            int accepted = 0;
            while (accepted < rank) {
                SocketChannel channel = acceptNext(listener, deadline, rendezvous, rank);
                channel.configureBlocking(false);
                ByteBuffer hello = readBytes(channel, HELLO_BYTES, deadline, rendezvous, "a connecting rank");
                int peer = checkMagic(hello, "a connecting rank");
                if (peer < 0 || peer >= rank || links[peer] != null || hello.getLong() != token(peers[peer])) {
                    channel.close();
                    LOG.log(System.Logger.Level.WARNING, "rank {0}: dropped a connection that did not prove a lower rank", rank);
                    continue;
                }
                tune(channel);
                sendHello(channel, rank, token, deadline, rendezvous);
                links[peer] = new Link(peer, peers[peer], channel, selector);
                accepted++;
            }
            TcpCollective collective = new TcpCollective(rank, size, rendezvous, links, selector);
            // Spark's barrier tasks join once per round: the line is said once per process and rank.
            LOG.log(Notices.first("joined " + collective.describe()) ? System.Logger.Level.INFO
                    : System.Logger.Level.DEBUG, "joined {0}", collective.describe());
            return collective;
        } catch (IOException | RuntimeException e) {
            for (Link link : links) {
                if (link != null) {
                    link.close();
                }
            }
            if (selector != null) {
                try {
                    selector.close();
                } catch (IOException ignored) {
                    // already failing; the original error says why
                }
            }
            if (e instanceof IOException io) {
                throw new UncheckedIOException("rank " + rank + " of " + size + " could not join the TCP collective: "
                        + io.getMessage(), io);
            }
            throw (RuntimeException) e;
        }
    }

    private static long token(String peer) {
        return Long.parseUnsignedLong(peer.split(" ")[2], 16);
    }

    private static void checkHello(long theirToken, int peer, String[] peers) throws IOException {
        if (theirToken != token(peers[peer])) {
            throw new IOException("the listener at " + peers[peer] + " did not prove to be rank " + peer);
        }
    }

    /** Socket buffers before the connection is made, so the receive window can scale to them. */
    private static void tune(SocketChannel channel) throws IOException {
        channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
        channel.setOption(StandardSocketOptions.SO_SNDBUF, SOCKET_BUFFER);
        channel.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER);
    }

    private static void sendHello(SocketChannel channel, int rank, long token, long deadline, Rendezvous rendezvous)
            throws IOException {
        ByteBuffer hello = ByteBuffer.allocate(HELLO_BYTES).order(ByteOrder.nativeOrder());
        hello.putInt(HELLO_MAGIC).putInt(rank).putLong(token).flip();
        while (hello.hasRemaining()) {
            if (channel.write(hello) == 0) {
                pause(deadline, rendezvous, "sending the hello");
            }
        }
    }

    private static long readHello(SocketChannel channel, long deadline, Rendezvous rendezvous, String peer)
            throws IOException {
        ByteBuffer hello = readBytes(channel, HELLO_BYTES, deadline, rendezvous, peer);
        checkMagic(hello, peer);
        return hello.getLong();
    }

    private static int checkMagic(ByteBuffer hello, String peer) throws IOException {
        if (hello.getInt() != HELLO_MAGIC) {
            throw new IOException(peer + " is no sparkmoe collective rank, or runs with another byte order");
        }
        return hello.getInt();
    }

    private static ByteBuffer readBytes(SocketChannel channel, int count, long deadline, Rendezvous rendezvous,
                                        String peer) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(count).order(ByteOrder.nativeOrder());
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer);
            if (n < 0) {
                throw new EOFException(peer + " closed the connection during the hello");
            }
            if (n == 0) {
                pause(deadline, rendezvous, "waiting for the hello of " + peer);
            }
        }
        return buffer.flip();
    }

    private static SocketChannel acceptNext(ServerSocketChannel listener, long deadline, Rendezvous rendezvous, int rank)
            throws IOException {
        for (SocketChannel channel = listener.accept(); ; channel = listener.accept()) {
            if (channel != null) {
                return channel;
            }
            pause(deadline, rendezvous, "rank " + rank + " waiting for the lower ranks to connect");
        }
    }

    private static void pause(long deadline, Rendezvous rendezvous, String what) throws IOException {
        if (rendezvous.cancelled()) {
            throw new IOException("called off while " + what);
        }
        if (System.currentTimeMillis() > deadline) {
            throw new IOException("timed out after " + JOIN_TIMEOUT_MILLIS / 1000 + " s " + what);
        }
        try {
            Thread.sleep(2);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while " + what, e);
        }
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
        return "tcp collective (rank " + rank + " of " + size + ", ring all-reduce, fp32 on the wire)";
    }

    @Override
    public void allReduceSum(Tensor t) {
        ringAllReduce(fp32(t, "allReduceSum"));
    }

    @Override
    public void allReduceMean(Tensor t) {
        MemorySegment data = fp32(t, "allReduceMean");
        ringAllReduce(data);
        if (size > 1) {
            for (long at = 0; at < data.byteSize(); at += 4) {
                data.set(FLOAT, at, data.get(FLOAT, at) / size);
            }
        }
    }

    @Override
    public void allGather(Tensor send, Tensor recv) {
        checkSameType(send, recv, "allGather");
        if (recv.size() != size * send.size()) {
            throw new IllegalArgumentException("allGather: " + recv.name() + " holds " + recv.size() + " elements, but "
                    + size + " ranks x " + send.size() + " need " + size * send.size());
        }
        MemorySegment mine = CpuTensor.segment(send);
        MemorySegment all = CpuTensor.segment(recv);
        long block = mine.byteSize();
        MemorySegment.copy(mine, 0, all, rank * block, block);
        for (Link link : peers()) {
            link.startSend(mine);
            link.startReceive(all.asSlice(link.peer * block, block), false);
        }
        await("allGather");
    }

    @Override
    public long[] gatherValues(long[] values) {
        long[] all = new long[size * values.length];
        System.arraycopy(values, 0, all, rank * values.length, values.length);
        MemorySegment mine = MemorySegment.ofArray(values);
        MemorySegment gathered = MemorySegment.ofArray(all);
        long block = mine.byteSize();
        for (Link link : peers()) {
            link.startSend(mine);
            link.startReceive(gathered.asSlice(link.peer * block, block), false);
        }
        await("gatherValues");
        return all;
    }

    @Override
    public void broadcast(Tensor t, int root) {
        if (root < 0 || root >= size) {
            throw new IllegalArgumentException("broadcast root " + root + " is not a rank of " + size);
        }
        MemorySegment data = CpuTensor.segment(t);
        if (rank == root) {
            for (Link link : peers()) {
                link.startSend(data);
            }
        } else {
            links[root].startReceive(data, false);
        }
        await("broadcast from rank " + root);
    }

    @Override
    public void allToAll(Tensor send, long[] sendCounts, Tensor recv, long[] recvCounts) {
        checkSameType(send, recv, "allToAll");
        long[] sendAt = offsets(sendCounts, send, "send");
        long[] recvAt = offsets(recvCounts, recv, "receive");
        if (sendCounts[rank] != recvCounts[rank]) {
            throw new IllegalArgumentException("allToAll: rank " + rank + " sends itself " + sendCounts[rank]
                    + " elements but expects " + recvCounts[rank]);
        }
        MemorySegment out = CpuTensor.segment(send);
        MemorySegment in = CpuTensor.segment(recv);
        MemorySegment.copy(out, 4 * sendAt[rank], in, 4 * recvAt[rank], 4 * sendCounts[rank]);
        for (Link link : peers()) {
            int p = link.peer;
            link.startSend(out.asSlice(4 * sendAt[p], 4 * sendCounts[p]));
            link.startReceive(in.asSlice(4 * recvAt[p], 4 * recvCounts[p]), false);
        }
        await("allToAll");
    }

    private long[] offsets(long[] counts, Tensor t, String what) {
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

    /**
     * The ring: reduce-scatter (after step s rank r holds the sum over s + 2 ranks of chunk r - s - 1, and after W - 1
     * steps the whole sum of chunk r + 1), then all-gather of the summed chunks around the same ring.
     */
    private void ringAllReduce(MemorySegment data) {
        if (size == 1) {
            return;
        }
        long n = data.byteSize() / 4;
        Link right = links[(rank + 1) % size];
        Link left = links[(rank + size - 1) % size];
        for (int s = 0; s < size - 1; s++) {
            right.startSend(chunk(data, n, rank - s));
            left.startReceive(chunk(data, n, rank - s - 1), true);
            await("all-reduce, reduce-scatter step " + (s + 1) + " of " + (size - 1));
        }
        for (int s = 0; s < size - 1; s++) {
            right.startSend(chunk(data, n, rank + 1 - s));
            left.startReceive(chunk(data, n, rank - s), false);
            await("all-reduce, all-gather step " + (s + 1) + " of " + (size - 1));
        }
    }

    /** Chunk {@code c} (taken modulo W) of W near-equal chunks of {@code n} floats. */
    private MemorySegment chunk(MemorySegment data, long n, int c) {
        int k = Math.floorMod(c, size);
        long from = n * k / size;
        long to = n * (k + 1) / size;
        return data.asSlice(4 * from, 4 * (to - from));
    }

    private static MemorySegment fp32(Tensor t, String operation) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(operation + " sums fp32 tensors; " + t.name() + " is " + t.dtype());
        }
        return CpuTensor.segment(t);
    }

    private static void checkSameType(Tensor send, Tensor recv, String operation) {
        if (send.dtype() != recv.dtype()) {
            throw new IllegalArgumentException(operation + ": " + send.name() + " is " + send.dtype() + " but "
                    + recv.name() + " is " + recv.dtype());
        }
    }

    private java.util.List<Link> peers() {
        java.util.List<Link> out = new java.util.ArrayList<>(size - 1);
        for (Link link : links) {
            if (link != null) {
                out.add(link);
            }
        }
        return out;
    }

    /** Runs the selector until every started send and receive is complete. */
    private void await(String operation) {
        if (broken) {
            throw new IllegalStateException(describe() + " failed earlier and cannot run " + operation);
        }
        try {
            while (true) {
                boolean busy = false;
                for (Link link : links) {
                    if (link != null) {
                        int ops = (link.sending() ? SelectionKey.OP_WRITE : 0) | (link.receiving() ? SelectionKey.OP_READ : 0);
                        link.key.interestOps(ops);
                        busy |= ops != 0;
                    }
                }
                if (!busy) {
                    return;
                }
                if (rendezvous.cancelled() || Thread.currentThread().isInterrupted()) {
                    throw new IllegalStateException(describe() + ": " + operation + " called off (the task was killed)");
                }
                selector.select(POLL_MILLIS);
                for (SelectionKey key : selector.selectedKeys()) {
                    Link link = (Link) key.attachment();
                    try {
                        if (key.isWritable() && link.sending()) {
                            link.write();
                        }
                        if (key.isReadable() && link.receiving()) {
                            link.read();
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(describe() + ": " + operation + " failed on the connection to rank "
                                + link.peer + " (" + link.address + "): " + e.getMessage()
                                + "; that rank's task failed or its process was lost", e);
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException e) {
            broken = true;
            throw new UncheckedIOException(describe() + ": " + operation + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            broken = true;
            throw e;
        }
    }

    @Override
    public void close() {
        for (Link link : links) {
            if (link != null) {
                link.close();
            }
        }
        try {
            selector.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "closing the selector of " + describe() + ": " + e.getMessage());
        }
    }

    /** One connection to a peer, with at most one send and one receive in flight. */
    private static final class Link {

        final int peer;
        final String address;
        final SocketChannel channel;
        final SelectionKey key;
        private final ByteBuffer out = ByteBuffer.allocateDirect(PIECE).order(ByteOrder.nativeOrder());
        private final MemorySegment outMemory = MemorySegment.ofBuffer(out);
        private final ByteBuffer in = ByteBuffer.allocateDirect(PIECE).order(ByteOrder.nativeOrder());
        private final MemorySegment inMemory = MemorySegment.ofBuffer(in);
        private MemorySegment source;
        private long queued;
        private MemorySegment target;
        private long received;
        private boolean adding;
        private boolean lengthRead;

        Link(int peer, String address, SocketChannel channel, Selector selector) throws IOException {
            this.peer = peer;
            this.address = address.substring(0, address.lastIndexOf(' '));
            this.channel = channel;
            this.key = channel.register(selector, 0, this);
        }

        boolean sending() {
            return source != null;
        }

        boolean receiving() {
            return target != null;
        }

        void startSend(MemorySegment bytes) {
            source = bytes;
            queued = 0;
            out.clear();
            out.putLong(bytes.byteSize());
            fill();
        }

        /** Copies the next piece of the source behind what {@code out} holds, leaving it ready to write. */
        private void fill() {
            long n = Math.min(out.remaining(), source.byteSize() - queued);
            MemorySegment.copy(source, queued, outMemory, out.position(), n);
            out.position(out.position() + (int) n);
            queued += n;
            out.flip();
        }

        void write() throws IOException {
            channel.write(out);
            if (!out.hasRemaining()) {
                if (queued == source.byteSize()) {
                    source = null;
                } else {
                    out.clear();
                    fill();
                }
            }
        }

        void startReceive(MemorySegment bytes, boolean add) {
            target = bytes;
            received = 0;
            adding = add;
            lengthRead = false;
            consume();
        }

        void read() throws IOException {
            if (channel.read(in) < 0) {
                throw new EOFException("rank " + peer + " closed the connection");
            }
            consume();
        }

        /** Takes what {@code in} holds for the current receive; bytes of the peer's next transfer stay. */
        private void consume() {
            in.flip();
            if (!lengthRead && in.remaining() >= 8) {
                long length = in.getLong();
                if (length != target.byteSize()) {
                    in.compact();
                    throw new IllegalStateException("rank " + peer + " sent " + length + " bytes where " + target.byteSize()
                            + " were expected: the ranks called the collective with different sizes");
                }
                lengthRead = true;
            }
            if (lengthRead) {
                long n = Math.min(in.remaining() & ~3L, target.byteSize() - received);
                if (adding) {
                    for (long i = 0; i < n; i += 4) {
                        long at = received + i;
                        target.set(FLOAT, at, target.get(FLOAT, at) + inMemory.get(FLOAT, in.position() + i));
                    }
                } else {
                    MemorySegment.copy(inMemory, in.position(), target, received, n);
                }
                in.position(in.position() + (int) n);
                received += n;
                if (received == target.byteSize()) {
                    target = null;
                }
            }
            in.compact();
        }

        void close() {
            try {
                channel.close();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "closing the connection to rank " + peer + ": " + e.getMessage());
            }
        }
    }
}
