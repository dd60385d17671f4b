package org.sparkmoe.jobs.refresh;

import java.util.List;
import java.util.Map;

/**
 * The manifest of one published dataset version ({@code <target>/versions/vNNNNN.json}). It lists every shard of
 * the dataset (the previous version's plus the new ones) and every input file folded in so far, so the manifest
 * alone is the refresh state: publishing it is the one atomic step that moves both data and state forward.
 *
 * @param version   1, 2, ...
 * @param created   ISO instant of publication
 * @param previous  the version it extends, 0 for the first
 * @param inputs    every input file the dataset contains, with its fingerprint when it was read
 * @param shards    every shard of the dataset, oldest first
 * @param added     what this version's refresh did: input documents, kept, and dropped per reason
 */
public record DatasetVersion(int version, String created, int previous, List<InputFingerprint> inputs,
                             List<Shard> shards, Map<String, Long> added) {

    public DatasetVersion {
        inputs = List.copyOf(inputs);
        shards = List.copyOf(shards);
        added = Map.copyOf(added);
    }

    /** Documents in every shard. */
    public long documents() {
        return shards.stream().mapToLong(Shard::documents).sum();
    }

    /**
     * One data file of the dataset.
     *
     * @param path       URI relative to the dataset target, e.g. {@code data/v00002/part-00000.parquet}
     * @param version    the version that added it
     * @param documents  documents in it
     * @param bytes      its size
     */
    public record Shard(String path, int version, long documents, long bytes) {}
}
