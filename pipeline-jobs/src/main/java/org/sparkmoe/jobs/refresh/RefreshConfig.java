package org.sparkmoe.jobs.refresh;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.sparkmoe.jobs.cli.JobSettings;

/**
 * The settings of {@code sparkmoe refresh} (keys, defaults and descriptions in {@code conf/refresh.properties}).
 *
 * @param inputs        input files, directories or globs (any Hadoop URI); everything they match is the corpus
 * @param target        the dataset's root (any Hadoop URI): versions/, data/, _refresh/
 * @param prepareConfig a prepare properties file whose settings the refresh's prepare step uses (its input and
 *                      output are set by the refresh); empty for prepare's defaults
 * @param tokenizer     the tokenizer.json the new documents are encoded with; every version of a dataset uses one
 * @param tokenizeConfig a tokenize properties file whose settings (EOS/BOS, validation ratio, mixture, seed, shard
 *                      size) the refresh's tokenize step uses (input, output, version and tokenizer are set by the
 *                      refresh); empty for tokenize's defaults
 * @param verifySha256  hash every shard of the current version before the new one references it
 * @param lease         the lock's lease: a refresh that stops renewing it for this long is presumed dead
 * @param lockWait      how long a second refresh waits for the lock before failing
 * @param documentsPerFile documents of one version are written as about this many documents per data file
 */
public record RefreshConfig(List<String> inputs, String target, Optional<String> prepareConfig, String tokenizer,
                            Optional<String> tokenizeConfig, boolean verifySha256, Duration lease, Duration lockWait,
                            long documentsPerFile) {

    public static RefreshConfig from(JobSettings s) {
        long lease = s.longValue("lock.lease-seconds");
        s.require(lease >= 1, "lock.lease-seconds", "at least 1");
        long wait = s.longValue("lock.wait-seconds");
        s.require(wait >= 0, "lock.wait-seconds", "0 or more");
        long perFile = s.longValue("output.documents-per-file");
        s.require(perFile >= 1, "output.documents-per-file", "at least 1");
        return new RefreshConfig(s.list("input"), s.string("target"), s.find("prepare.config"), s.string("tokenizer"),
                s.find("tokenize.config"), s.bool("verify-previous-sha256"), Duration.ofSeconds(lease),
                Duration.ofSeconds(wait), perFile);
    }
}
