package org.sparkmoe.model.backend.cuda.bench;

import static org.sparkmoe.model.backend.cuda.bench.BenchFigures.relativeError;
import static org.sparkmoe.model.backend.cuda.bench.BenchFigures.tflops;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.CudaBackend;
import org.sparkmoe.model.backend.cuda.CudaDevice;
import org.sparkmoe.model.backend.cuda.DeviceSelection;
import org.sparkmoe.model.backend.cuda.GemmPrecision;
import org.sparkmoe.model.backend.cuda.GroupedGemmPath;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.testing.BalancedRouting;

/**
 * The experts' grouped GEMMs alone, cuBLAS ({@code cublasGemmGroupedBatchedEx} and its bf16 → fp32 pass) against our
 * own kernels, at a preset's MoE shapes ({@code conf/models}: routed experts, their width, top-K) over one micro-batch
 * of tokens routed by a balanced random routing (each token picks its K experts uniformly, so the rows per expert
 * vary as a trained router's balanced ones do). Each product of one MoE layer's forward and backward
 * ({@code GroupedExperts}) is timed through the {@code Backend} call with CUDA events (median of several warm calls;
 * everything the call launches: activation casts, the offsets' upload, the product, cuBLAS's bf16 → fp32 pass or our
 * weight gradients' reduce), with bf16 operands and the weights read from a parameter arena's bf16 image as in
 * training. TFLOP/s count {@code 2·R·I·D} per product. The two paths' outputs are compared on one overwrite call.
 * Run: {@code java ... GroupedGemmBench val-2b small cmp-deepseekmoe cmp-gshard} ({@code PRESET:TOKENS}; default
 * 16,384 tokens, the anchor's val2b and small micro-batches and the paper-comparison models' 32 × 512); prints a
 * table, then one JSON line per preset and product.
 *
 * <p>Legend: R slab rows (tokens · K), E experts, D width, I expert width; xs, dYs [R, D]; hs [R, I]; gate [E, I, D],
 * down [E, D, I].
 */
public final class GroupedGemmBench {

    private static final int DEFAULT_TOKENS = 16_384;
    private static final int WARM = 3;
    private static final int TIMED = 9;
    private static final List<GroupedGemmPath> PATHS = List.of(GroupedGemmPath.CUBLAS, GroupedGemmPath.OWN);

    /**
     * One grouped product of an MoE layer as GroupedExperts calls it ({@code n} of the Backend call is I when
     * {@code nIsWidth}, else D; k the other), and how often a layer calls it.
     */
    private record Product(String name, String kind, boolean nIsWidth, String a, String b, String out,
            boolean accumulate, int perLayer) {
    }

    /** Forward: gate and up (same shape), down; backward: dX through down, gate and up; dW of down, gate and up. */
    private static final List<Product> PRODUCTS = List.of(
            new Product("fwd gate/up  xs·gateᵀ", "NT", true, "xs", "gate", "hs-out", false, 2),
            new Product("fwd down     hs·downᵀ", "NT", false, "hs", "down", "d-out", false, 1),
            new Product("dX  down     dYs·down", "NN", false, "dYs", "down", "hs-out", false, 1),
            new Product("dX  gate/up  dGs·gate", "NN", true, "hs", "gate", "d-out", true, 2),
            new Product("dW  down     dYsᵀ·hs", "TN", false, "dYs", "hs", "down-grad", true, 1),
            new Product("dW  gate/up  dGsᵀ·xs", "TN", true, "hs", "xs", "gate-grad", true, 2));

    private GroupedGemmBench() {
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            throw new IllegalArgumentException("usage: GroupedGemmBench PRESET[:TOKENS]... (val-2b, small,"
                    + " cmp-deepseekmoe, cmp-gshard, ...)");
        }
        try (CudaDevice device = CudaDevice.open(new DeviceSelection(0, "GroupedGemmBench"))) {
            StringBuilder json = new StringBuilder();
            System.out.printf(Locale.ROOT, "%-16s %-22s %6s %10s %8s %10s %8s %8s %9s%n", "preset", "product", "M|N|K",
                    "cuBLAS ms", "TFLOP/s", "own ms", "TFLOP/s", "own/cub", "rel.err");
            for (String arg : args) {
                String[] parts = arg.split(":", 2);
                ModelConfig model = ModelPresets.load(parts[0]);
                int tokens = parts.length == 1 ? DEFAULT_TOKENS : Integer.parseInt(parts[1]);
                bench(device, parts[0], model, tokens, json);
            }
            System.out.print(json);
        }
    }

    private static void bench(CudaDevice device, String preset, ModelConfig model, int tokens, StringBuilder json) {
        int experts = model.nRoutedExperts();
        int dim = model.hiddenSize();
        int width = model.moeIntermediateSize();
        int[] counts = BalancedRouting.rowsPerExpert(new Random(11), experts, tokens, model.numExpertsPerTok());
        long rows = Arrays.stream(counts).asLongStream().sum();
        System.out.printf(Locale.ROOT, "%s: %d experts of %d x %d, %d tokens top-%d: %d rows, %d-%d per expert%n",
                preset, experts, width, dim, tokens, model.numExpertsPerTok(), rows,
                Arrays.stream(counts).min().orElse(0), Arrays.stream(counts).max().orElse(0));
        Map<GroupedGemmPath, double[]> millis = new LinkedHashMap<>();
        Map<GroupedGemmPath, float[][]> outputs = new LinkedHashMap<>();
        for (GroupedGemmPath path : PATHS) {
            try (CudaBackend backend = new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM, path)) {
                Map<String, Tensor> t = tensors(backend, experts, dim, width, rows);
                double[] ms = new double[PRODUCTS.size()];
                float[][] out = new float[PRODUCTS.size()][];
                for (int p = 0; p < PRODUCTS.size(); p++) {
                    Product product = PRODUCTS.get(p);
                    Runnable call = call(backend, product, counts, width, dim, t, product.accumulate(), t.get(product.out()));
                    for (int i = 0; i < WARM; i++) {
                        call.run();
                    }
                    double[] runs = new double[TIMED];
                    for (int i = 0; i < TIMED; i++) {
                        runs[i] = device.time(call);
                    }
                    Arrays.sort(runs);
                    ms[p] = runs[TIMED / 2];
                    Tensor check = t.get(product.out());
                    call(backend, product, counts, width, dim, t, false, check).run();
                    out[p] = new float[(int) Math.min(check.size(), 1 << 24)];
                    backend.download(check, 0, out[p], 0, out[p].length);
                }
                millis.put(path, ms);
                outputs.put(path, out);
            }
        }
        double flops = 2.0 * rows * width * dim;
        double[] layer = new double[PATHS.size()];
        for (int p = 0; p < PRODUCTS.size(); p++) {
            Product product = PRODUCTS.get(p);
            double cublas = millis.get(GroupedGemmPath.CUBLAS)[p];
            double own = millis.get(GroupedGemmPath.OWN)[p];
            layer[0] += product.perLayer() * cublas;
            layer[1] += product.perLayer() * own;
            double error = relativeError(outputs.get(GroupedGemmPath.OWN)[p], outputs.get(GroupedGemmPath.CUBLAS)[p]);
            System.out.printf(Locale.ROOT, "%-16s %-22s %6s %10.3f %8.1f %10.3f %8.1f %8.2f %9.1e%n", preset,
                    product.name(), shapeOf(product), cublas, tflops(flops, cublas), own, tflops(flops, own),
                    own / cublas, error);
            json.append(String.format(Locale.ROOT, "{\"grouped_gemm\":true,\"preset\":\"%s\",\"product\":\"%s\","
                    + "\"experts\":%d,\"width\":%d,\"dim\":%d,\"rows\":%d,\"cublas_ms\":%.4f,\"own_ms\":%.4f,"
                    + "\"cublas_TFLOPs\":%.1f,\"own_TFLOPs\":%.1f,\"relative_error\":%.2e}%n", preset,
                    product.name().replaceAll("\\s+", " "), experts, width, dim, rows, cublas, own,
                    tflops(flops, cublas), tflops(flops, own), error));
        }
        double layerFlops = 9 * flops;
        System.out.printf(Locale.ROOT, "%-16s %-22s %6s %10.3f %8.1f %10.3f %8.1f %8.2f%n%n", preset,
                "one MoE layer (9 calls)", "", layer[0], tflops(layerFlops, layer[0]), layer[1],
                tflops(layerFlops, layer[1]), layer[1] / layer[0]);
    }

    /** The product's GEMM dimensions M|N|K in R, I and D. */
    private static String shapeOf(Product product) {
        String n = product.nIsWidth() ? "I" : "D";
        String k = product.nIsWidth() ? "D" : "I";
        return switch (product.kind()) {
            case "NT" -> "R|" + n + "|" + k;
            case "NN" -> "R|" + k + "|" + n;
            default -> n + "|" + k + "|R";
        };
    }

    /** The backend call of one product: C (overwritten or accumulated) into {@code out}. */
    private static Runnable call(CudaBackend backend, Product product, int[] counts, int width, int dim,
            Map<String, Tensor> t, boolean accumulate, Tensor out) {
        Tensor a = t.get(product.a());
        Tensor b = t.get(product.b());
        int n = product.nIsWidth() ? width : dim;
        int k = product.nIsWidth() ? dim : width;
        return switch (product.kind()) {
            case "NT" -> () -> backend.groupedMatmulNT(counts, n, k, a, b, out, accumulate);
            case "NN" -> () -> backend.groupedMatmulNN(counts, n, k, a, b, out, accumulate);
            case "TN" -> () -> backend.groupedMatmulTN(counts, n, k, a, b, out, accumulate);
            default -> throw new IllegalArgumentException(product.kind());
        };
    }

    /** Weights in one parameter arena (read from its bf16 image), activations, outputs; random values. */
    private static Map<String, Tensor> tensors(CudaBackend backend, int experts, int dim, int width, long rows) {
        long weights = (long) experts * width * dim;
        Tensor arena = backend.allocateParameters("experts", 2 * weights);
        fill(backend, arena, 0.02f);
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("gate", backend.view(arena, "gate", 0, weights));
        t.put("down", backend.view(arena, "down", weights, weights));
        t.put("xs", filled(backend, "xs", rows * dim, 1f));
        t.put("dYs", filled(backend, "dYs", rows * dim, 1f));
        t.put("hs", filled(backend, "hs", rows * width, 1f));
        t.put("hs-out", backend.allocate("hs-out", DType.F32, rows * width));
        t.put("d-out", backend.allocate("d-out", DType.F32, rows * dim));
        t.put("gate-grad", backend.allocate("gate-grad", DType.F32, weights));
        t.put("down-grad", backend.allocate("down-grad", DType.F32, weights));
        return t;
    }

    private static Tensor filled(CudaBackend backend, String name, long n, float scale) {
        Tensor t = backend.allocate(name, DType.F32, n);
        fill(backend, t, scale);
        return t;
    }

    /** Uniform values of standard deviation {@code scale}: one random chunk repeated (the same on every path). */
    private static void fill(CudaBackend backend, Tensor t, float scale) {
        Random random = new Random(t.size());
        float[] chunk = new float[1 << 20];
        for (int i = 0; i < chunk.length; i++) {
            chunk[i] = (random.nextFloat() - 0.5f) * 3.4641f * scale;
        }
        for (long off = 0; off < t.size(); off += chunk.length) {
            backend.upload(chunk, 0, t, off, (int) Math.min(chunk.length, t.size() - off));
        }
    }
}
