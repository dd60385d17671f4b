package org.sparkmoe.jobs.refresh;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.shards.Manifest;

/**
 * One published dataset version ({@code <target>/versions/vNNNNN.json}): a token-shard {@link Manifest} that lists
 * every shard of the dataset (the previous version's, unchanged, then the new ones; paths relative to
 * {@code versions/}), so {@code TokenDataset}, {@code inspect} and {@code train} read it like any tokenize output,
 * plus a {@code refresh} section with the state of the refresh: every input file folded in so far and what each
 * step did. The one file is data and state together: publishing it is the single atomic step of a refresh.
 *
 * @param version   1, 2, ...
 * @param created   ISO instant of publication
 * @param previous  the version it extends, 0 for the first
 * @param inputs    every input file the dataset contains, with its fingerprint when it was read
 * @param documents the prepared documents (Parquet) of every version, oldest first: what the shards were made from
 * @param added     what this version's refresh did: input documents, kept, dropped per reason, tokens
 * @param tokens    the token-shard manifest of the whole dataset
 */
public record DatasetVersion(int version, String created, int previous, List<InputFingerprint> inputs,
                             List<DocumentFile> documents, Map<String, Long> added, Manifest tokens) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
    static final String REFRESH_FIELD = "refresh";

    public DatasetVersion {
        inputs = List.copyOf(inputs);
        documents = List.copyOf(documents);
        added = Map.copyOf(added);
    }

    /** Documents kept in every version (train and validation; before mixture sampling). */
    public long documentCount() {
        return documents.stream().mapToLong(DocumentFile::documents).sum();
    }

    /** Tokens in both splits. */
    public long tokenCount() {
        return tokens.splits().values().stream().mapToLong(Manifest.Split::tokens).sum();
    }

    /** The manifest's JSON with the {@code refresh} section added. */
    public String toJson() {
        try {
            ObjectNode node = (ObjectNode) JSON.readTree(tokens.toJson());
            node.set(REFRESH_FIELD, JSON.valueToTree(new RefreshSection(version, created, previous, inputs,
                    documents, added)));
            return JSON.writeValueAsString(node) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise dataset version " + version, e);
        }
    }

    public static DatasetVersion fromJson(String json, String origin) {
        JsonNode refresh;
        try {
            refresh = JSON.readTree(json).get(REFRESH_FIELD);
        } catch (JsonProcessingException e) {
            throw new UsageException(origin + " is not a dataset version manifest: " + e.getOriginalMessage());
        }
        if (refresh == null || !refresh.has("version")) {
            throw new UsageException(origin + " has no '" + REFRESH_FIELD + "' section: it is not a refresh dataset"
                    + " version (a refresh before token shards wrote Parquet-only versions: refresh into a new target)");
        }
        Manifest tokens = Manifest.fromJson(json, origin);
        try {
            RefreshSection r = JSON.treeToValue(refresh, RefreshSection.class);
            return new DatasetVersion(r.version(), r.created(), r.previous(), r.inputs(), r.documents(), r.added(),
                    tokens);
        } catch (JsonProcessingException e) {
            throw new UsageException(origin + " has an unreadable '" + REFRESH_FIELD + "' section: "
                    + e.getOriginalMessage());
        }
    }

    /** The {@code refresh} section as stored. */
    record RefreshSection(int version, String created, int previous, List<InputFingerprint> inputs,
                                  List<DocumentFile> documents, Map<String, Long> added) {}

    /**
     * One Parquet file of prepared documents (prepare's kept/ schema).
     *
     * @param path      relative to the dataset target, e.g. {@code data/v00002/kept/part-00000-....parquet}
     * @param version   the version that added it
     * @param documents documents in it
     * @param bytes     its size
     */
    public record DocumentFile(String path, int version, long documents, long bytes) {}
}
