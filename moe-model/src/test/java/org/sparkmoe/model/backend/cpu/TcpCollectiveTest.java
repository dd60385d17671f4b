package org.sparkmoe.model.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.testing.ThreadRanks;

/**
 * The TCP collective between ranks that are threads of this JVM, talking over loopback sockets exactly as tasks in
 * different executors do. Sums are checked against fp64 sums computed here: W = 1 and W = 2 give the correctly
 * rounded sum, larger W stays within the recursive-summation bound γ(W-1)·Σ|x| per element (γ(k) = k·u/(1-k·u),
 * u = 2⁻²⁴, so about (W-1)·2⁻²⁴·Σ|x|), and every rank ends with the same bits.
 */
class TcpCollectiveTest {

    private static final double U = Math.scalb(1.0, -24);

    /** Values spread over six orders of magnitude, with both signs, so rounding is exercised. */
    private static float[] values(long seed, int n) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(-3, 4)));
        }
        return v;
    }

    private static float[] allReduce(int size, float[][] inputs, boolean mean) {
        int n = inputs[0].length;
        List<float[]> results = new ThreadRanks(size).run((rank, rendezvous) -> {
            try (CpuBackend backend = new CpuBackend(1);
                 Collective collective = backend.joinCollective(rank, size, rendezvous)) {
                Tensor t = backend.allocate("x", DType.F32, n);
                backend.upload(inputs[rank], 0, t, 0, n);
                if (mean) {
                    collective.allReduceMean(t);
                } else {
                    collective.allReduceSum(t);
                }
                float[] out = new float[n];
                backend.download(t, 0, out, 0, n);
                return out;
            }
        });
        for (int r = 1; r < size; r++) {
            assertArrayEquals(results.get(0), results.get(r), "rank " + r + " must hold rank 0's bits");
        }
        return results.get(0);
    }

    @Test
    void ringAllReduceIsTheCorrectlyRoundedSumForTwoRanksAndWithinTheBoundBeyond() {
        // 3 elements leave some of 4 chunks empty; 700,001 floats make each chunk several 1 MiB pieces.
        for (int n : new int[] {3, 10_007, 700_001}) {
            for (int size = 1; size <= 4; size++) {
                float[][] inputs = new float[size][];
                for (int r = 0; r < size; r++) {
                    inputs[r] = values(31L * size + r + n, n);
                }
                float[] sum = allReduce(size, inputs, false);
                double worst = 0;
                for (int i = 0; i < n; i++) {
                    double exact = 0;
                    double magnitude = 0;
                    for (float[] input : inputs) {
                        exact += input[i];
                        magnitude += Math.abs(input[i]);
                    }
                    if (size <= 2) {
                        assertEquals((float) exact, sum[i], "W=" + size + " element " + i + ": the correctly rounded sum");
                    } else {
                        double error = Math.abs(sum[i] - exact);
                        double gamma = (size - 1) * U / (1 - (size - 1) * U);
                        assertTrue(error <= gamma * magnitude, "W=" + size + " element " + i + ": error " + error
                                + " above γ(W-1)·Σ|x| = " + gamma * magnitude);
                        worst = Math.max(worst, error / (U * magnitude));
                    }
                }
                System.out.printf("all-reduce W=%d n=%d: worst error %.3f x 2^-24·Σ|x|%n", size, n, worst);
            }
        }
    }

    @Test
    void meanIsTheRingSumDividedByTheRankCount() {
        int n = 5_000;
        float[][] inputs = {values(1, n), values(2, n), values(3, n)};
        float[] sum = allReduce(3, inputs, false);
        float[] mean = allReduce(3, inputs, true);
        for (int i = 0; i < n; i++) {
            assertEquals(sum[i] / 3, mean[i], "element " + i);
        }
    }

    @Test
    void gathersBroadcastAndAllToAllMoveEveryBlockWhereItBelongs() {
        int size = 3;
        int width = 3;
        // counts[s][d]: rows rank s sends rank d, zeros included (an expert-parallel dispatch of token rows).
        int[][] rows = {{2, 0, 3}, {1, 4, 0}, {0, 2, 5}};
        List<Object> checked = new ThreadRanks(size).run((rank, rendezvous) -> {
            try (CpuBackend backend = new CpuBackend(1);
                 Collective collective = backend.joinCollective(rank, size, rendezvous)) {
                Tensor mine = backend.allocate("ids", DType.I32, 4);
                backend.uploadInts(new int[] {rank, 10 * rank, 100 * rank, -rank}, 0, mine, 0, 4);
                Tensor all = backend.allocate("all ids", DType.I32, 12);
                collective.allGather(mine, all);
                int[] gathered = new int[12];
                backend.downloadInts(all, 0, gathered, 0, 12);
                assertArrayEquals(new int[] {0, 0, 0, 0, 1, 10, 100, -1, 2, 20, 200, -2}, gathered);

                assertArrayEquals(new long[] {0, 0, 1, -1, 2, -2}, collective.gatherValues(new long[] {rank, -rank}));

                Tensor shared = backend.allocate("shared", DType.F32, 7);
                backend.upload(rank == 2 ? values(99, 7) : new float[7], 0, shared, 0, 7);
                collective.broadcast(shared, 2);
                float[] got = new float[7];
                backend.download(shared, 0, got, 0, 7);
                assertArrayEquals(values(99, 7), got);

                long[] sendCounts = new long[size];
                long[] recvCounts = new long[size];
                int sendRows = 0;
                int recvRows = 0;
                for (int p = 0; p < size; p++) {
                    sendCounts[p] = (long) rows[rank][p] * width;
                    recvCounts[p] = (long) rows[p][rank] * width;
                    sendRows += rows[rank][p];
                    recvRows += rows[p][rank];
                }
                float[] outgoing = new float[sendRows * width];
                for (int i = 0; i < outgoing.length; i++) {
                    outgoing[i] = 1000 * rank + i;
                }
                Tensor send = backend.allocate("rows out", DType.F32, outgoing.length);
                backend.upload(outgoing, 0, send, 0, outgoing.length);
                Tensor recv = backend.allocate("rows in", DType.F32, (long) recvRows * width);
                collective.allToAll(send, sendCounts, recv, recvCounts);
                float[] incoming = new float[recvRows * width];
                backend.download(recv, 0, incoming, 0, incoming.length);
                int at = 0;
                for (int p = 0; p < size; p++) {
                    int first = 0;
                    for (int d = 0; d < rank; d++) {
                        first += rows[p][d] * width;
                    }
                    for (int i = 0; i < rows[p][rank] * width; i++) {
                        assertEquals(1000 * p + first + i, incoming[at++], "rank " + rank + ": element " + i + " from rank " + p);
                    }
                }
                return null;
            }
        });
        assertEquals(size, checked.size());
    }

    @Test
    void ranksThatDisagreeOnASizeFailNamingIt() {
        List<Object> outcomes = new ThreadRanks(2).outcomes((rank, rendezvous) -> {
            try (CpuBackend backend = new CpuBackend(1);
                 Collective collective = backend.joinCollective(rank, 2, rendezvous)) {
                Tensor t = backend.allocate("x", DType.F32, rank == 0 ? 8 : 12);
                collective.allReduceSum(t);
                return "finished";
            }
        });
        for (Object o : outcomes) {
            assertInstanceOf(IllegalStateException.class, o);
        }
        String message = ((Throwable) outcomes.get(0)).getMessage();
        assertTrue(message.contains("rank 1 sent 24 bytes where 16 were expected") && message.contains("different sizes"),
                message);
    }

    @Test
    void aLostPeerFailsTheOthersInsteadOfHangingThem() {
        List<Object> outcomes = new ThreadRanks(3).outcomes((rank, rendezvous) -> {
            try (CpuBackend backend = new CpuBackend(1);
                 Collective collective = backend.joinCollective(rank, 3, rendezvous)) {
                if (rank == 2) {
                    return "left";
                }
                Tensor t = backend.allocate("x", DType.F32, 100_000);
                collective.allReduceSum(t);
                return "finished";
            }
        });
        assertEquals("left", outcomes.get(2));
        for (int r = 0; r < 2; r++) {
            assertInstanceOf(RuntimeException.class, outcomes.get(r), "rank " + r + ": " + outcomes.get(r));
            System.out.println("rank " + r + ": " + ((Throwable) outcomes.get(r)).getMessage());
        }
        String message = ((Throwable) outcomes.get(0)).getMessage();
        assertTrue(message.contains("connection to rank 2") && message.contains("task failed or its process was lost"), message);
    }

    @Test
    void aKilledTaskStopsWaitingForItsPeer() {
        ThreadRanks ranks = new ThreadRanks(2);
        List<Object> outcomes = ranks.outcomes((rank, rendezvous) -> {
            try (CpuBackend backend = new CpuBackend(1);
                 Collective collective = backend.joinCollective(rank, 2, rendezvous)) {
                if (rank == 1) {
                    Thread.sleep(300);
                    ranks.cancel(0);
                    Thread.sleep(1_000);
                    return "slow peer";
                }
                collective.allReduceSum(backend.allocate("x", DType.F32, 10));
                return "finished";
            }
        });
        String message = ((Throwable) outcomes.get(0)).getMessage();
        assertTrue(message.contains("called off"), message);
    }

    @Test
    void aRankOnAnotherTransportIsNamed() {
        List<Object> outcomes = new ThreadRanks(2).outcomes((rank, rendezvous) -> {
            if (rank == 1) {
                return rendezvous.allGather("nccl -");
            }
            try (CpuBackend backend = new CpuBackend(1)) {
                return backend.joinCollective(0, 2, rendezvous);
            }
        });
        String message = ((Throwable) outcomes.get(0)).getMessage();
        assertTrue(message.contains("rank 1 joined the collective over 'nccl' but rank 0 over 'tcp'")
                && message.contains("same backend"), message);
    }
}
