package org.sparkmoe.jobs.evaluate;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.shards.TokenDataset;
import org.sparkmoe.jobs.tokenizer.TokenizerJson;
import org.sparkmoe.jobs.train.ComputeDevice;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.jobs.train.EngineTrainerFactory;
import org.sparkmoe.model.moe.MoeLayer;
import org.sparkmoe.model.moe.RoutingAblation;
import org.sparkmoe.model.train.EvalMetrics;
import org.sparkmoe.model.train.TrainingEngine;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * Scores the first {@code maxSequences} sequences of a dataset split with trained parameters, spread over Spark
 * tasks: cross-entropy, the UTF-8 bytes of the scored targets (for bits per byte, when a tokenizer is given), the
 * tokens each routed expert of each MoE layer received, and the cross-entropy of the same targets under each given
 * {@link RoutingAblation} (the specialisation analyses: one more forward per ablation and batch, same engine).
 */
public final class ValidationPass {

    private ValidationPass() {}

    /** The pass without routing ablations. */
    public static ValidationResult run(SparkSession spark, EngineTrainerFactory engine, float[] params_P,
                                       String manifestUri, String split, int seqLen, long maxSequences, int batchSize,
                                       TokenizerJson tokenizerJson) throws IOException {
        return run(spark, engine, params_P, manifestUri, split, seqLen, maxSequences, batchSize, tokenizerJson,
                List.of());
    }

    public static ValidationResult run(SparkSession spark, EngineTrainerFactory engine, float[] params_P,
                                       String manifestUri, String split, int seqLen, long maxSequences, int batchSize,
                                       TokenizerJson tokenizerJson, List<RoutingAblation> ablations) throws IOException {
        long available;
        try (TokenDataset dataset = TokenDataset.open(manifestUri, split, seqLen, spark.sparkContext().hadoopConfiguration(), false)) {
            available = dataset.sequenceCount();
        }
        long sequences = Math.min(available, maxSequences);
        if (sequences == 0) {
            throw new IllegalArgumentException("split " + split + " of " + manifestUri + " holds no sequence of "
                    + (seqLen + 1) + " tokens: evaluate with a shorter seq-len or a larger validation split");
        }
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int tasks = (int) Math.max(1, Math.min(sc.defaultParallelism(), (sequences + batchSize - 1) / batchSize));
        List<long[]> ranges = new ArrayList<>();
        for (int t = 0; t < tasks; t++) {
            ranges.add(new long[] {sequences * t / tasks, sequences * (t + 1) / tasks});
        }
        Broadcast<float[]> params = sc.broadcast(params_P);
        sc.setJobDescription("sparkmoe evaluate: " + sequences + " sequences of " + split
                + (ablations.isEmpty() ? "" : ", " + ablations.size() + " routing ablations"));
        List<RoutingAblation> shipped = List.copyOf(ablations);
        try {
            return sc.parallelize(ranges, tasks)
                    .map(range -> score(engine, params.value(), manifestUri, split, seqLen, range, batchSize,
                            tokenizerJson, shipped))
                    .reduce(ValidationResult::merge);
        } finally {
            params.destroy();
            sc.setJobDescription(null);
        }
    }

    private static ValidationResult score(EngineTrainerFactory factory, float[] params_P, String manifestUri, String split,
                                          int seqLen, long[] range, int batchSize, TokenizerJson tokenizerJson,
                                          List<RoutingAblation> ablations) throws IOException {
        Tokenizer tokenizer = tokenizerJson == null ? null : tokenizerJson.tokenizer();
        int row = seqLen + 1;
        try (TokenDataset dataset = TokenDataset.open(manifestUri, split, seqLen, JobHadoop.current(), false);
             TrainingEngine engine = factory.createInferenceEngine(factory.device().bind(TaskContext.get()))) {
            engine.writeParameters(params_P);
            List<MoeLayer> moe = engine.model().moeLayers();
            long[][] load_LE = new long[moe.size()][];
            int[] layers = new int[moe.size()];
            double lossSum = 0;
            long targets = 0;
            long bytes = 0;
            double[] ablationLossSum = new double[ablations.size()];
            long scoreNanos = 0;
            long ablationNanos = 0;
            for (long first = range[0]; first < range[1]; first += batchSize) {
                int batch = (int) Math.min(batchSize, range[1] - first);
                int[] batch_BT1 = new int[batch * row];
                for (int b = 0; b < batch; b++) {
                    dataset.readSequence(first + b, batch_BT1, b * row);
                }
                moe.forEach(MoeLayer::resetStatistics);
                long start = System.nanoTime();
                EvalMetrics m = engine.evaluate(batch_BT1, batch, row);
                scoreNanos += System.nanoTime() - start;
                lossSum += m.loss() * m.tokens();
                targets += m.tokens();
                for (int l = 0; l < moe.size(); l++) {
                    long[] counts = moe.get(l).tokensPerExpert();
                    if (load_LE[l] == null) {
                        load_LE[l] = new long[counts.length];
                        layers[l] = moe.get(l).layerIndex();
                    }
                    for (int e = 0; e < counts.length; e++) {
                        load_LE[l][e] += counts[e];
                    }
                }
                start = System.nanoTime();
                for (int a = 0; a < ablations.size(); a++) {
                    EvalMetrics ablated = engine.evaluate(batch_BT1, batch, row, ablations.get(a));
                    ablationLossSum[a] += ablated.loss() * ablated.tokens();
                }
                ablationNanos += System.nanoTime() - start;
                if (tokenizer != null) {
                    for (int b = 0; b < batch; b++) {
                        bytes += tokenizer.byteCount(Arrays.copyOfRange(batch_BT1, b * row + 1, (b + 1) * row));
                    }
                }
            }
            return new ValidationResult(lossSum, targets, bytes, range[1] - range[0], load_LE, layers,
                    ablationLossSum, scoreNanos / 1e9, ablationNanos / 1e9);
        }
    }
}
