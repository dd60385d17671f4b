package org.sparkmoe.jobs.evaluate;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.shards.TokenDataset;
import org.sparkmoe.jobs.train.ComputeDevice;
import org.sparkmoe.jobs.train.EngineTrainerFactory;
import org.sparkmoe.model.moe.MoeLayer;
import org.sparkmoe.model.train.EvalMetrics;
import org.sparkmoe.model.train.TrainingEngine;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * Scores the first {@code maxSequences} sequences of a dataset split with trained parameters, spread over Spark
 * tasks: cross-entropy, the UTF-8 bytes of the scored targets (for bits per byte, when a tokenizer is given) and the
 * tokens each routed expert of each MoE layer received.
 */
public final class ValidationPass {

    private ValidationPass() {}

    public static ValidationResult run(SparkSession spark, EngineTrainerFactory engine, float[] params_P,
                                       String manifestUri, String split, int seqLen, long maxSequences, int batchSize,
                                       String tokenizerJson) throws IOException {
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
        sc.setJobDescription("sparkmoe evaluate: " + sequences + " sequences of " + split);
        try {
            return sc.parallelize(ranges, tasks)
                    .map(range -> score(engine, params.value(), manifestUri, split, seqLen, range, batchSize, tokenizerJson))
                    .reduce(ValidationResult::merge);
        } finally {
            params.destroy();
            sc.setJobDescription(null);
        }
    }

    private static ValidationResult score(EngineTrainerFactory factory, float[] params_P, String manifestUri, String split,
                                          int seqLen, long[] range, int batchSize, String tokenizerJson) throws IOException {
        Tokenizer tokenizer = tokenizerJson == null ? null : Tokenizer.fromJson(tokenizerJson);
        int row = seqLen + 1;
        try (TokenDataset dataset = TokenDataset.open(manifestUri, split, seqLen, new Configuration(), false);
             TrainingEngine engine = factory.createEngine(ComputeDevice.CPU)) {
            engine.writeParameters(params_P);
            List<MoeLayer> moe = engine.model().moeLayers();
            long[][] load_LE = new long[moe.size()][];
            int[] layers = new int[moe.size()];
            double lossSum = 0;
            long targets = 0;
            long bytes = 0;
            for (long first = range[0]; first < range[1]; first += batchSize) {
                int batch = (int) Math.min(batchSize, range[1] - first);
                int[] batch_BT1 = new int[batch * row];
                for (int b = 0; b < batch; b++) {
                    dataset.readSequence(first + b, batch_BT1, b * row);
                }
                moe.forEach(MoeLayer::resetStatistics);
                EvalMetrics m = engine.evaluate(batch_BT1, batch, row);
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
                if (tokenizer != null) {
                    for (int b = 0; b < batch; b++) {
                        int[] targetIds = java.util.Arrays.copyOfRange(batch_BT1, b * row + 1, (b + 1) * row);
                        bytes += tokenizer.decode(targetIds).getBytes(StandardCharsets.UTF_8).length;
                    }
                }
            }
            return new ValidationResult(lossSum, targets, bytes, range[1] - range[0], load_LE, layers);
        }
    }
}
