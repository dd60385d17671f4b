package org.sparkmoe.notebooks;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.FileHashes;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.ShardInfo;
import org.sparkmoe.jobs.shards.ShardSchema;
import org.sparkmoe.jobs.shards.ShardWriter;
import org.sparkmoe.jobs.train.VectorFiles;

/**
 * A small token dataset the notebooks make for themselves when no tokenized dataset is at hand: real corpus
 * documents under a byte-level "tokenizer" (a document's UTF-8 bytes are its token ids, then EOS = 256), written
 * with the project's shard writer and manifest, so {@code train} and {@code evaluate} read it like any other.
 * It fits the {@code tiny} model preset (vocabulary 512).
 */
public final class ByteLevelDataset {

    public static final int EOS = 256;
    public static final int VOCAB = 257;
    public static final String TOKENIZER = "utf-8 bytes";

    private ByteLevelDataset() {}

    /**
     * Writes {@code trainDocs} documents of {@code trainJsonl} as two train shards and {@code validationDocs} of
     * {@code validationJsonl} as one validation shard under {@code dir}; returns the manifest URI. Existing output
     * is reused.
     */
    public static String write(String dir, String trainJsonl, int trainDocs, String validationJsonl, int validationDocs)
            throws IOException {
        Configuration conf = new Configuration();
        Path root = new Path(dir);
        FileSystem fs = root.getFileSystem(conf);
        Path manifestFile = new Path(root, Manifest.FILE_NAME);
        if (fs.exists(manifestFile)) {
            return fs.makeQualified(manifestFile).toString();
        }
        List<String> train = texts(fs, new Path(trainJsonl), trainDocs);
        int half = (train.size() + 1) / 2;
        List<ShardInfo> trainShards = List.of(
                shard(fs, root, "train/shard-0.arrow", train.subList(0, half), 0),
                shard(fs, root, "train/shard-1.arrow", train.subList(half, train.size()), half));
        ShardInfo validation = shard(fs, root, "validation/shard-0.arrow",
                texts(fs, new Path(validationJsonl), validationDocs), 0);
        Manifest manifest = new Manifest(ShardSchema.FORMAT, ShardSchema.FORMAT_VERSION, root.getName(),
                new Manifest.TokenizerInfo(TOKENIZER, tokenizerSha256(), VOCAB, EOS, -1),
                Map.of("source", trainJsonl, "documents", String.valueOf(train.size())), Map.of(), Map.of(),
                Map.of(Manifest.TRAIN, Manifest.Split.of(trainShards),
                        Manifest.VALIDATION, Manifest.Split.of(List.of(validation))));
        VectorFiles.writeText(fs, manifestFile, manifest.toJson());
        return fs.makeQualified(manifestFile).toString();
    }

    /** Decodes byte-level token ids back to text (EOS as a visible marker). */
    public static String decode(int[] ids) {
        StringBuilder out = new StringBuilder();
        byte[] run = new byte[ids.length];
        int n = 0;
        for (int id : ids) {
            if (id == EOS) {
                out.append(new String(run, 0, n, StandardCharsets.UTF_8)).append("⟨eos⟩");
                n = 0;
            } else {
                run[n++] = (byte) id;
            }
        }
        return out.append(new String(run, 0, n, StandardCharsets.UTF_8)).toString();
    }

    static String tokenizerSha256() {
        return FileHashes.sha256("sparkmoe:utf8-bytes+eos".getBytes(StandardCharsets.UTF_8));
    }

    private static List<String> texts(FileSystem fs, Path jsonl, int docs) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<String> texts = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(fs.open(jsonl), StandardCharsets.UTF_8))) {
            for (String line = in.readLine(); line != null && texts.size() < docs; line = in.readLine()) {
                if (!line.isBlank()) {
                    texts.add(json.readTree(line).path("text").asText());
                }
            }
        }
        return texts;
    }

    private static ShardInfo shard(FileSystem fs, Path root, String relative, List<String> texts, int firstDoc)
            throws IOException {
        try (ShardWriter writer = ShardWriter.create(fs, new Path(root, relative), relative,
                ShardSchema.schema(tokenizerSha256(), EOS), 4096)) {
            for (int i = 0; i < texts.size(); i++) {
                byte[] bytes = texts.get(i).getBytes(StandardCharsets.UTF_8);
                int[] ids = new int[bytes.length + 1];
                for (int b = 0; b < bytes.length; b++) {
                    ids[b] = bytes[b] & 0xFF;
                }
                ids[bytes.length] = EOS;
                writer.add("doc-" + (firstDoc + i), "en", ids);
            }
            return writer.finish();
        }
    }
}
