package org.sparkmoe.jobs.refresh;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.sparkmoe.jobs.cli.JobOption;
import org.sparkmoe.jobs.cli.JobSettings;

/**
 * The settings of {@code sparkmoe refresh} (defaults in {@code conf/refresh.properties}).
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

    static final List<JobOption> OPTIONS = List.of(
            JobOption.repeatable("input", "input files, directories or globs (any Hadoop URI); the whole corpus each"
                    + " time: only files new or changed since the current version are processed", true),
            JobOption.required("target", "the dataset root (any Hadoop URI): versions/vNNNNN.json manifests, data/,"
                    + " and _refresh/ (lock, dedup index, pending work)"),
            JobOption.of("prepare.config", "a prepare .properties file for the prepare step (filters, minhash.*);"
                    + " empty: prepare's defaults. Its input and output are set by refresh"),
            JobOption.required("tokenizer", "the HF tokenizer.json the new documents are encoded with (any Hadoop"
                    + " path); it must be the one every earlier version of the target used"),
            JobOption.of("tokenize.config", "a tokenize .properties file for the tokenize step (eos/bos, validation.ratio,"
                    + " mixture.*, seed, shard.*); empty: tokenize's defaults. Input, output, version and tokenizer are"
                    + " set by refresh; mixture settings apply to each refresh's new documents on their own"),
            JobOption.of("verify.previous_sha256", "true: hash every shard of the current version before the new"
                    + " version references it (reads the whole dataset); false: check lengths and Arrow layout only"),
            JobOption.of("lock.lease_seconds", "lease of the lock on the target; the holder renews it every third;"
                    + " a refresh that died releases it after this many seconds"),
            JobOption.of("lock.wait_seconds", "how long a refresh waits for another one's lock before failing"),
            JobOption.of("output.documents_per_file", "about this many documents per data file of a new version"));

    public static RefreshConfig from(JobSettings s) {
        long lease = s.longValue("lock.lease_seconds");
        s.require(lease >= 1, "lock.lease_seconds", "at least 1");
        long wait = s.longValue("lock.wait_seconds");
        s.require(wait >= 0, "lock.wait_seconds", "0 or more");
        long perFile = s.longValue("output.documents_per_file");
        s.require(perFile >= 1, "output.documents_per_file", "at least 1");
        return new RefreshConfig(s.list("input"), s.string("target"), s.find("prepare.config"), s.string("tokenizer"),
                s.find("tokenize.config"), s.bool("verify.previous_sha256"), Duration.ofSeconds(lease),
                Duration.ofSeconds(wait), perFile);
    }
}
