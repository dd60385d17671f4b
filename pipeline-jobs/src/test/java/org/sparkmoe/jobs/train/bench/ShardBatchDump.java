package org.sparkmoe.jobs.train.bench;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.SequenceLoader;
import org.sparkmoe.jobs.shards.TokenDataset;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.jobs.train.ByteShards;

/**
 * Real-shard training batches for a machine that has no Spark or Arrow on its classpath (the GPU machine): writes
 * real token shards of real corpus documents ({@link ByteShards}: {@code ShardWriter}, byte-level ids, EOS 256), opens
 * them with {@link TokenDataset}, and dumps what the trainer's {@link SequenceLoader} yields, batch after batch, as
 * little-endian int32 rows of {@code seqLen + 1} ids ({@code moe-model}'s {@code EngineOnCuda shards} reads them).
 *
 * <p>Run: {@code java ... ShardBatchDump OUT_DIR DOCS SEQ_LEN BATCH STEPS} writes {@code OUT_DIR/shards/} and
 * {@code OUT_DIR/batches-SEQ_LEN-BATCH-STEPS.i32}.
 */
public final class ShardBatchDump {

    private ShardBatchDump() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 5) {
            throw new IllegalArgumentException("usage: ShardBatchDump OUT_DIR DOCS SEQ_LEN BATCH STEPS");
        }
        Path out = Path.of(args[0]);
        int docs = Integer.parseInt(args[1]);
        int seqLen = Integer.parseInt(args[2]);
        int batch = Integer.parseInt(args[3]);
        int steps = Integer.parseInt(args[4]);
        Configuration conf = new Configuration();
        FileSystem local = FileSystem.getLocal(conf);
        String manifest = ByteShards.write(local, new org.apache.hadoop.fs.Path(out.resolve("shards").toUri()),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), docs, 2, -1, 1);
        Path file = out.resolve("batches-" + seqLen + "-" + batch + "-" + steps + ".i32");
        try (TokenDataset dataset = TokenDataset.open(manifest, Manifest.TRAIN, seqLen, conf);
                OutputStream stream = new DataOutputStream(Files.newOutputStream(file))) {
            SequenceLoader loader = dataset.loader(17, 0, 1);
            int[] rows = new int[batch * (seqLen + 1)];
            ByteBuffer bytes = ByteBuffer.allocate(4 * rows.length).order(ByteOrder.LITTLE_ENDIAN);
            for (int s = 0; s < steps; s++) {
                loader.nextBatch(rows, batch);
                bytes.clear();
                bytes.asIntBuffer().put(rows);
                stream.write(bytes.array());
            }
            System.out.printf("%s: %d batches of %d x %d ids from %d sequences (%d tokens) of %d documents%n", file,
                    steps, batch, seqLen + 1, dataset.sequenceCount(), dataset.tokenCount(), docs);
        }
    }
}
