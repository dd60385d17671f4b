package org.sparkmoe.jobs.shards;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A small dataset written with the real {@link ShardWriter}, of random documents whose tokens the test keeps, so the
 * expected token stream is known independently of the reader.
 */
final class SyntheticDataset {

    static final String TOKENIZER_SHA = "ab".repeat(32);
    static final int EOS = 1;

    final List<int[]> documents = new ArrayList<>();
    final int[] stream;
    final Manifest manifest;

    private SyntheticDataset(List<int[]> documents, Manifest manifest) {
        this.documents.addAll(documents);
        this.manifest = manifest;
        int total = documents.stream().mapToInt(d -> d.length).sum();
        this.stream = new int[total];
        int at = 0;
        for (int[] doc : documents) {
            System.arraycopy(doc, 0, stream, at, doc.length);
            at += doc.length;
        }
    }

    /** Writes {@code shards} shards of {@code docsPerShard} documents under {@code dir} and its manifest. */
    static SyntheticDataset write(FileSystem fs, Path dir, int shards, int docsPerShard, int batchTokens, long seed)
            throws IOException {
        Random random = new Random(seed);
        List<int[]> documents = new ArrayList<>();
        List<ShardInfo> infos = new ArrayList<>();
        for (int s = 0; s < shards; s++) {
            String relative = "train/shard-" + s + ".arrow";
            try (ShardWriter writer = ShardWriter.create(fs, new Path(dir, relative), relative,
                    ShardSchema.schema(TOKENIZER_SHA, EOS), batchTokens)) {
                for (int d = 0; d < docsPerShard; d++) {
                    int[] doc = new int[1 + random.nextInt(300)];
                    for (int t = 0; t < doc.length - 1; t++) {
                        doc[t] = 3 + random.nextInt(128_000);
                    }
                    doc[doc.length - 1] = EOS;
                    documents.add(doc);
                    writer.add("doc-" + s + "-" + d, d % 3 == 0 ? "zh" : "en", doc);
                }
                infos.add(writer.finish());
            }
        }
        Manifest manifest = new Manifest(ShardSchema.FORMAT, ShardSchema.FORMAT_VERSION, "synthetic-v1",
                new Manifest.TokenizerInfo("none", TOKENIZER_SHA, 128_815, EOS, -1), Map.of("seed", "1"), Map.of(), Map.of(),
                Map.of(Manifest.TRAIN, Manifest.Split.of(infos), Manifest.VALIDATION, Manifest.Split.of(List.of())));
        manifest.write(fs, new Path(dir, Manifest.FILE_NAME));
        return new SyntheticDataset(documents, manifest);
    }
}
