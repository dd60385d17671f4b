package org.sparkmoe.jobs.shards;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * One shard as the manifest lists it.
 *
 * @param path              relative to the manifest's directory, e.g. {@code train/shard-00003.arrow}
 * @param bytes             the file's length; a shorter file is truncated
 * @param sha256            hex SHA-256 of the whole file
 * @param documents         rows (documents, EOS included in their tokens)
 * @param tokens            token ids in the shard
 * @param recordBatches     Arrow record batches in the file
 * @param tokensPerLanguage tokens by the documents' {@code lang}
 */
public record ShardInfo(String path, long bytes, String sha256, long documents, long tokens, int recordBatches,
                        Map<String, Long> tokensPerLanguage) implements Serializable {

    public ShardInfo {
        tokensPerLanguage = new TreeMap<>(tokensPerLanguage);
    }

    /** The same shard under another relative path (executors write it with its final name only). */
    public ShardInfo withPath(String newPath) {
        return new ShardInfo(newPath, bytes, sha256, documents, tokens, recordBatches, tokensPerLanguage);
    }
}
