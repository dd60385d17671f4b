package org.sparkmoe.jobs.shards;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;
import org.sparkmoe.jobs.cli.JobSettings;

/**
 * The validated settings of one tokenize run (defaults in conf/tokenize.properties).
 *
 * @param input            prepare output directory (its {@code kept/} is read)
 * @param tokenizer        tokenizer.json path
 * @param output           dataset root
 * @param version          version name, the directory under {@code output}
 * @param eosToken         token appended to each document
 * @param bosToken         token prepended to each document, or empty
 * @param validationRatio  share of documents in the validation split, in [0, 1)
 * @param shares           target train shares per language; empty for the natural mixture
 * @param maxEpochs        the most uses of one document, at least 1
 * @param totalTokens      train tokens wanted; 0 for the largest total without repetition
 * @param seed             mixture and shuffle seed
 * @param shardBytes       target shard size in bytes
 * @param batchTokens      tokens per record batch
 * @param recorded         the settings the manifest records: all but the output location and spark.*
 */
public record TokenizeConfig(String input, String tokenizer, String output, String version, String eosToken,
                             String bosToken, double validationRatio, Map<String, Double> shares, double maxEpochs,
                             long totalTokens, long seed, long shardBytes, int batchTokens,
                             Map<String, String> recorded) implements Serializable {

    public static TokenizeConfig from(JobSettings s) {
        s.require(s.string("version").matches("[A-Za-z0-9._-]+") && !s.string("version").startsWith("."), "version",
                "a directory name of letters, digits, '.', '_' or '-', for example v1");
        double ratio = s.number("validation-ratio");
        s.require(ratio >= 0 && ratio < 1, "validation-ratio", "in [0, 1), for example 0.01");
        double maxEpochs = s.number("mixture.max-epochs");
        s.require(maxEpochs >= 1, "mixture.max-epochs", "at least 1");
        long total = s.longValue("mixture.total-tokens");
        s.require(total >= 0, "mixture.total-tokens", "0 (no repetition) or a positive token count");
        double shardMb = s.number("shard.size-mb");
        s.require(shardMb >= 0.01 && shardMb <= 4096, "shard.size-mb", "between 0.01 and 4096 (MiB)");
        int batchTokens = s.integer("shard.batch-tokens");
        s.require(batchTokens >= 1024 && batchTokens <= 256 << 20, "shard.batch-tokens",
                "between 1024 and 268435456 (Arrow list offsets are int32)");
        Map<String, String> recorded = new TreeMap<>(s.asMap());
        recorded.keySet().removeIf(k -> k.equals("output") || k.startsWith("spark."));
        return new TokenizeConfig(s.string("input"), s.string("tokenizer"), s.string("output"), s.string("version"),
                s.string("eos-token"), s.string("bos-token", ""), ratio,
                MixtureSampler.parseShares(s.string("mixture.shares", "")), maxEpochs, total, s.longValue("seed"),
                (long) (shardMb * (1 << 20)), batchTokens, recorded);
    }
}
