package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Properties;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.shards.SequenceLoader;
import org.sparkmoe.jobs.shards.TokenDataset;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The engine memorises a few batches read from real Arrow token shards through the shard reader: the whole data path
 * the trainer uses (shards → TokenDataset → SequenceLoader → engine), with no Spark in between.
 */
class ShardOverfitTest {

    @Test
    void tinyModelOverfitsAFewBatchesOfShardData(@TempDir java.nio.file.Path dir) throws Exception {
        Configuration conf = new Configuration();
        FileSystem fs = FileSystem.getLocal(conf);
        String manifest = ByteShards.write(fs, new Path(dir.toUri()), SharedData.trainCorpus().resolve("en_gutenberg.jsonl"),
                8, 2, -1, 1);
        int seqLen = 32;
        int batch = 4;
        TokenDataset dataset = TokenDataset.open(manifest, "train", seqLen, conf);
        SequenceLoader loader = dataset.loader(7, 0, 1);
        int[][] batches = new int[2][batch * (seqLen + 1)];
        for (int[] b : batches) {
            loader.nextBatch(b, batch);
        }

        Properties props = new Properties();
        try (var in = ShardOverfitTest.class.getClassLoader().getResourceAsStream("sparkmoe-conf/models/tiny.properties")) {
            props.load(in);
        }
        props.setProperty("vocab_size", String.valueOf(ByteShards.VOCAB));
        ModelConfig model = ModelPresets.fromProperties("tiny-bytes", props);
        TrainConfig train = new TrainConfig(1e-2, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, 2);
        try (TrainingEngine engine = TrainingEngine.create(model, train, new CpuBackend(2), 1)) {
            StepMetrics first = engine.step(batches[0], batch, seqLen + 1);
            double worst = first.loss();
            for (int i = 0; i < 400 && worst > 0.05; i++) {
                worst = 0;
                for (int[] b : batches) {
                    worst = Math.max(worst, engine.step(b, batch, seqLen + 1).loss());
                }
            }
            System.out.println("shard overfit: loss " + first.loss() + " -> " + worst);
            assertEquals(Math.log(ByteShards.VOCAB), first.loss(), 0.1, "initial loss of a near-uniform model");
            assertTrue(worst < 0.05, "loss on the shard batches stayed at " + worst);
        }
    }
}
