package org.sparkmoe.jobs.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.FileHashes;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.ShardInfo;
import org.sparkmoe.jobs.shards.ShardSchema;
import org.sparkmoe.jobs.shards.ShardWriter;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * Real token shards (the shards' {@link ShardWriter} and manifest) of real corpus documents under a byte-level
 * "tokenizer": each document's UTF-8 bytes are its token ids, then EOS = 256. Fits the bigram test engine and the
 * engine's {@code tiny} preset (vocabulary 512). Optionally every {@code probeEvery}-th document is replaced by a
 * run of one probe token, to make workers meet non-finite steps.
 */
public final class ByteShards {

    public static final int EOS = 256;
    public static final int VOCAB = 257;
    public static final String TOKENIZER_SHA =
            FileHashes.sha256("sparkmoe-test:utf8-bytes+eos".getBytes(StandardCharsets.UTF_8));

    private ByteShards() {}

    /**
     * Writes {@code shards} training shards of the first {@code docs} documents of {@code jsonl}, and one
     * validation shard of the first {@code docs / 4} documents of the validation corpus's {@code en.jsonl};
     * returns the manifest URI.
     */
    public static String write(FileSystem fs, Path dir, java.nio.file.Path jsonl, int docs, int shards, int probeToken,
                        int probeEvery) throws IOException {
        List<String> texts = texts(jsonl, docs);
        List<ShardInfo> train = new ArrayList<>();
        int perShard = (texts.size() + shards - 1) / shards;
        for (int s = 0; s < shards; s++) {
            List<String> part = texts.subList(Math.min(texts.size(), s * perShard), Math.min(texts.size(), (s + 1) * perShard));
            train.add(shard(fs, dir, "train/shard-" + s + ".arrow", part, s * perShard, probeToken, probeEvery));
        }
        List<String> validationTexts = texts(SharedData.validationCorpus().resolve("en.jsonl"), Math.max(1, docs / 4));
        ShardInfo validation = shard(fs, dir, "validation/shard-0.arrow", validationTexts, 0, -1, 1);
        Manifest manifest = new Manifest(ShardSchema.FORMAT, ShardSchema.FORMAT_VERSION, dir.getName(),
                new Manifest.TokenizerInfo("utf-8 bytes", TOKENIZER_SHA, VOCAB, EOS, -1), Map.of("docs", "" + docs),
                Map.of(), Map.of(), Map.of(Manifest.TRAIN, Manifest.Split.of(train), Manifest.VALIDATION, Manifest.Split.of(List.of(validation))));
        Path manifestFile = new Path(dir, Manifest.FILE_NAME);
        VectorFiles.writeText(fs, manifestFile, manifest.toJson());
        return fs.makeQualified(manifestFile).toString();
    }

    private static List<String> texts(java.nio.file.Path jsonl, int docs) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<String> texts = new ArrayList<>();
        for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
            if (texts.size() == docs) {
                break;
            }
            if (!line.isBlank()) {
                texts.add(json.readTree(line).path("text").asText());
            }
        }
        return texts;
    }

    private static ShardInfo shard(FileSystem fs, Path dir, String relative, List<String> texts, int firstDoc,
                                   int probeToken, int probeEvery) throws IOException {
        try (ShardWriter writer = ShardWriter.create(fs, new Path(dir, relative), relative,
                ShardSchema.schema(TOKENIZER_SHA, EOS), 4096)) {
            for (int i = 0; i < texts.size(); i++) {
                int d = firstDoc + i;
                byte[] bytes = texts.get(i).getBytes(StandardCharsets.UTF_8);
                int[] ids = new int[bytes.length + 1];
                boolean probe = probeToken >= 0 && d % probeEvery == probeEvery - 1;
                for (int b = 0; b < bytes.length; b++) {
                    ids[b] = probe ? probeToken : bytes[b] & 0xFF;
                }
                ids[bytes.length] = EOS;
                writer.add("doc-" + d, "en", ids);
            }
            return writer.finish();
        }
    }
}
