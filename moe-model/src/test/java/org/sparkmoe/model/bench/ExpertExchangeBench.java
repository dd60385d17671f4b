package org.sparkmoe.model.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.decoder.PhaseTimer;
import org.sparkmoe.model.moe.MoeLayer;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.testing.ThreadRanks;

/**
 * What expert parallelism's all-to-all costs on the CPU backend's TCP collective, ranks as threads of this JVM over
 * loopback, each with a one-thread {@link CpuBackend}: the MoE layer of {@code small} (d 512, expert width 352, one
 * shared expert, top-3; 32 routed experts instead of 31 so that D divides them) on {@code tokens} tokens per rank.
 *
 * <ul>
 *   <li><b>all-to-all</b>: the dispatch of one layer alone, R·K rows of d floats per rank spread evenly over the
 *   ranks (what balanced routing sends), median time and the rate of bytes leaving each rank.</li>
 *   <li><b>layer</b>: the expert-parallel MoE layer's forward + backward (four row all-to-alls and one of counts),
 *   median time and the share its exchanges took ({@code PhaseTimer} EXCHANGE, permutations included).</li>
 *   <li><b>anchor</b> (same run): the same layer holding all 32 experts on one rank, same tokens, no exchange; with
 *   balanced routing each expert-parallel rank computes as many expert rows as the anchor does.</li>
 * </ul>
 *
 * <p>Run: {@code java $SPARKMOE_JVM_FLAGS -cp "$CP" org.sparkmoe.model.bench.ExpertExchangeBench [tokens]
 * [iterations] [ranks...]} (defaults 2048, 5, ranks 2 4).
 */
public final class ExpertExchangeBench {

    private ExpertExchangeBench() {
    }

    static ModelConfig layer(int ranks, int tokens) {
        return TestConfigs.preset("small", "num_hidden_layers=1", "n_routed_experts=32", "device_groups=" + ranks,
                "max_position_embeddings=" + tokens);
    }

    public static void main(String[] args) {
        int tokens = args.length > 0 ? Integer.parseInt(args[0]) : 2048;
        int iterations = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int[] sizes = args.length > 2 ? Arrays.stream(args, 2, args.length).mapToInt(Integer::parseInt).toArray()
                : new int[] {2, 4};
        double anchor = anchorSeconds(tokens, iterations);
        ModelConfig c = layer(1, tokens);
        System.out.printf(Locale.ROOT, "MoE layer of small (d %d, I %d, E 32, K %d, 1 shared), %d tokens per rank,"
                + " median of %d; anchor (one rank, all experts, no exchange): %.1f ms%n", c.hiddenSize(),
                c.moeIntermediateSize(), c.numExpertsPerTok(), tokens, iterations, 1e3 * anchor);
        System.out.println("| D | all-to-all bytes out per rank | all-to-all | rate out per rank | layer fwd+bwd |"
                + " exchange share | layer / anchor |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|");
        for (int size : sizes) {
            List<double[]> results = new ThreadRanks(size).run((rank, rendezvous) -> {
                try (CpuBackend backend = new CpuBackend(1);
                     Collective collective = backend.joinCollective(rank, size, rendezvous)) {
                    double allToAll = allToAllSeconds(backend, collective, tokens, iterations);
                    double[] layer = layerSeconds(backend, collective, tokens, iterations);
                    return new double[] {allToAll, layer[0], layer[1]};
                }
            });
            double allToAll = results.stream().mapToDouble(r -> r[0]).max().orElseThrow();
            double layer = results.stream().mapToDouble(r -> r[1]).max().orElseThrow();
            double share = results.stream().mapToDouble(r -> r[2]).average().orElseThrow();
            long rowsOut = (long) tokens * c.numExpertsPerTok() * (size - 1) / size;
            double bytesOut = 4.0 * rowsOut * c.hiddenSize();
            System.out.printf(Locale.ROOT, "| %d | %.1f MB | %.1f ms | %.2f GB/s | %.1f ms | %.0f %% | %.2f |%n", size,
                    bytesOut / 1e6, 1e3 * allToAll, bytesOut / allToAll / 1e9, 1e3 * layer, 100 * share,
                    layer / anchor);
        }
    }

    /** One dispatch-sized all-to-all: R·K rows per rank, split evenly over the ranks. */
    static double allToAllSeconds(CpuBackend backend, Collective collective, int tokens, int iterations) {
        ModelConfig c = layer(collective.size(), tokens);
        int size = collective.size();
        long rows = (long) tokens * c.numExpertsPerTok();
        long[] counts = new long[size];
        for (int p = 0; p < size; p++) {
            counts[p] = (rows * (p + 1) / size - rows * p / size) * c.hiddenSize();
        }
        Tensor send = backend.allocate("send", DType.F32, rows * c.hiddenSize());
        Tensor recv = backend.allocate("recv", DType.F32, rows * c.hiddenSize());
        Tensor sync = backend.allocate("sync", DType.F32, 1);
        double[] times = new double[iterations + 1];
        for (int i = 0; i < times.length; i++) {
            collective.allReduceSum(sync);
            long start = System.nanoTime();
            collective.allToAll(send, counts, recv, counts);
            times[i] = (System.nanoTime() - start) / 1e9;
        }
        return median(Arrays.copyOfRange(times, 1, times.length));
    }

    /** The expert-parallel layer's forward + backward: median seconds and the exchange's share of the time. */
    static double[] layerSeconds(CpuBackend backend, Collective collective, int tokens, int iterations) {
        ModelConfig c = layer(collective.size(), tokens);
        DeepSeekMoeModel model = new DeepSeekMoeModel(c, backend, tokens, collective);
        model.initialize(1);
        return timeLayer(model, backend, collective, tokens, iterations, collective.rank());
    }

    static double anchorSeconds(int tokens, int iterations) {
        try (CpuBackend backend = new CpuBackend(1)) {
            DeepSeekMoeModel model = new DeepSeekMoeModel(layer(1, tokens), backend, tokens);
            model.initialize(1);
            return timeLayer(model, backend, null, tokens, iterations, 0)[0];
        }
    }

    private static double[] timeLayer(DeepSeekMoeModel model, CpuBackend backend, Collective collective, int tokens,
                                      int iterations, int rank) {
        int d = model.config().hiddenSize();
        SplittableRandom random = new SplittableRandom(17 + rank);
        float[] host = new float[tokens * d];
        for (int i = 0; i < host.length; i++) {
            host[i] = (float) random.nextGaussian();
        }
        Tensor x = backend.allocate("x", DType.F32, (long) tokens * d);
        Tensor dOut = backend.allocate("dout", DType.F32, (long) tokens * d);
        Tensor out = backend.allocate("out", DType.F32, (long) tokens * d);
        Tensor dx = backend.allocate("dx", DType.F32, (long) tokens * d);
        Tensor ids = backend.allocate("ids", DType.I32, tokens);
        Tensor sync = backend.allocate("sync", DType.F32, 1);
        backend.upload(host, 0, x, 0, host.length);
        backend.upload(host, 0, dOut, 0, host.length);
        MoeLayer layer = model.moeLayers().getFirst();
        double[] times = new double[iterations + 1];
        double exchange = 0;
        double total = 0;
        for (int i = 0; i < times.length; i++) {
            if (collective != null) {
                collective.allReduceSum(sync);
            }
            model.timer().reset();
            long start = System.nanoTime();
            layer.forward(x, out, ids, 1, tokens, true);
            layer.backward(dOut, x, dx, 1, tokens);
            times[i] = (System.nanoTime() - start) / 1e9;
            if (i > 0) {
                exchange += model.timer().seconds().get(PhaseTimer.Phase.EXCHANGE);
                total += times[i];
            }
        }
        return new double[] {median(Arrays.copyOfRange(times, 1, times.length)), exchange / total};
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
