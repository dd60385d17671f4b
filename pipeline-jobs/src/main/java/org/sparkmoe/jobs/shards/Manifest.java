package org.sparkmoe.jobs.shards;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.tokenizer.TokenizerJson;

/**
 * The JSON manifest of one dataset version: what made it (tokenizer hash, config, mixture) and every shard with its
 * counts and SHA-256. Written last, so a directory without it is an unfinished dataset. Serialised with sorted keys
 * and no timestamps: the same input and config give byte-identical manifests. Schema in docs/shard-format.md.
 *
 * @param format         always {@link ShardSchema#FORMAT}
 * @param formatVersion  {@link ShardSchema#FORMAT_VERSION}; readers refuse other versions
 * @param datasetVersion the version name given to tokenize, also the directory name
 * @param tokenizer      the tokenizer the ids belong to
 * @param config         the tokenize settings that made this version (output location and spark.* excluded)
 * @param mixture        per language: what was available, asked for and reached in the train split
 * @param skippedDocuments input documents left out, by reason (a bad record is counted, never fatal)
 * @param splits         {@code train} and {@code validation}
 */
public record Manifest(String format, int formatVersion, String datasetVersion, TokenizerInfo tokenizer,
                       Map<String, String> config, Map<String, MixturePlan.Language> mixture,
                       Map<String, Long> skippedDocuments, Map<String, Split> splits) {

    public static final String FILE_NAME = "manifest.json";
    public static final String TRAIN = "train";
    public static final String VALIDATION = "validation";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    public Manifest {
        config = new TreeMap<>(config);
        mixture = new TreeMap<>(mixture);
        skippedDocuments = new TreeMap<>(skippedDocuments);
        splits = new TreeMap<>(splits);
    }

    /**
     * The tokenizer: {@code sha256} of its tokenizer.json bytes, where it was read from, and the ids the reader and
     * the trainer need.
     */
    public record TokenizerInfo(String path, String sha256, int vocabSize, int eosId, int bosId) {}

    /** One split: totals and its shards in stream order. */
    public record Split(long documents, long tokens, Map<String, Long> tokensPerLanguage, List<ShardInfo> shards) {

        public Split {
            tokensPerLanguage = new TreeMap<>(tokensPerLanguage);
            shards = List.copyOf(shards);
        }

        public static Split of(List<ShardInfo> shards) {
            Map<String, Long> perLanguage = new TreeMap<>();
            long documents = 0;
            long tokens = 0;
            for (ShardInfo shard : shards) {
                documents += shard.documents();
                tokens += shard.tokens();
                shard.tokensPerLanguage().forEach((lang, n) -> perLanguage.merge(lang, n, Long::sum));
            }
            return new Split(documents, tokens, perLanguage, shards);
        }
    }

    public Split split(String name) {
        Split split = splits.get(name);
        if (split == null) {
            throw new UsageException("dataset " + datasetVersion + " has no split '" + name + "'; it has "
                    + splits.keySet());
        }
        return split;
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(this) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the manifest", e);
        }
    }

    /**
     * The tokenizer.json at {@code location} (any Hadoop URI), refused unless this dataset was made with it.
     *
     * @param origin where this manifest was read, for the message
     */
    public TokenizerJson requireTokenizer(String location, Configuration hadoop, String origin) throws IOException {
        return TokenizerJson.read(location, hadoop).requireSha256(tokenizer.sha256(), tokenizer.path(),
                "dataset " + datasetVersion + " (" + origin + ")");
    }

    /** Writes the manifest to {@code file} (inside a staging directory: it becomes visible when that is published). */
    public void write(FileSystem fs, Path file) throws IOException {
        try (OutputStream out = fs.create(file, false)) {
            out.write(toJson().getBytes(StandardCharsets.UTF_8));
        }
    }

    public static Manifest fromJson(String json, String origin) {
        Manifest manifest;
        try {
            manifest = JSON.readValue(json, Manifest.class);
        } catch (JsonProcessingException e) {
            throw new UsageException(origin + " is not a token-shard manifest: " + e.getOriginalMessage());
        }
        if (!ShardSchema.FORMAT.equals(manifest.format()) || manifest.formatVersion() != ShardSchema.FORMAT_VERSION) {
            throw new UsageException(origin + " is format " + manifest.format() + " version " + manifest.formatVersion()
                    + "; this reader understands " + ShardSchema.FORMAT + " version " + ShardSchema.FORMAT_VERSION);
        }
        return manifest;
    }

    /** Reads a manifest from any Hadoop filesystem path (a manifest.json, or the dataset directory holding it). */
    public static Manifest read(FileSystem fs, Path path) throws IOException {
        Path file = manifestFile(fs, path);
        try (InputStream in = fs.open(file)) {
            return fromJson(new String(in.readAllBytes(), StandardCharsets.UTF_8), file.toString());
        }
    }

    /**
     * The manifest file for a path that is the file, its dataset directory, or the root of a dataset that
     * {@code refresh} maintains (its current version, {@link RefreshedDatasets}).
     */
    public static Path manifestFile(FileSystem fs, Path path) throws IOException {
        if (!fs.exists(path)) {
            throw new UsageException("no dataset at " + path + ": give the manifest.json of a tokenize output");
        }
        if (fs.getFileStatus(path).isDirectory()) {
            Path file = new Path(path, FILE_NAME);
            if (fs.exists(file)) {
                return file;
            }
            OptionalInt current = RefreshedDatasets.currentVersion(fs, path);
            if (current.isPresent()) {
                return RefreshedDatasets.versionFile(path, current.getAsInt());
            }
            throw new UsageException(path + " has no " + FILE_NAME + " and no " + RefreshedDatasets.VERSIONS_DIR
                    + "/vNNNNN.json: it is not a dataset version (or tokenize did not finish writing it), nor a"
                    + " refreshed dataset with a published version");
        }
        return path;
    }
}
