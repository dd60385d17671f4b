package org.sparkmoe.jobs.refresh;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.MixturePlan;
import org.sparkmoe.jobs.shards.ShardInfo;
import org.sparkmoe.jobs.shards.ShardReader;

/**
 * The token-shard manifest of a new dataset version: the previous version's shards, unchanged and first, then the
 * shards the tokenize job wrote for the new documents. Both must come from one tokenizer (same SHA-256, EOS and BOS
 * ids), or the ids of the two parts would mean different things to a trainer.
 */
final class VersionManifests {

    private VersionManifests() {}

    /**
     * @param name        the new version's name ({@code v00002})
     * @param previous    the current version's manifest (paths relative to {@code versions/}), empty for version 1
     * @param added       tokenize's manifest of the new documents, empty when none was kept
     * @param addedPrefix where {@code added}'s shards lie relative to {@code versions/} ({@code v00002/})
     */
    static Manifest combine(String name, Optional<Manifest> previous, Optional<Manifest> added, String addedPrefix) {
        if (previous.isEmpty() && added.isEmpty()) {
            throw new IllegalArgumentException("version " + name + " would have no shards at all");
        }
        previous.ifPresent(p -> added.ifPresent(a -> requireSameTokenizer(p, a)));
        Manifest base = added.orElseGet(previous::get);
        Map<String, Manifest.Split> splits = new TreeMap<>();
        for (String split : List.of(Manifest.TRAIN, Manifest.VALIDATION)) {
            List<ShardInfo> shards = new ArrayList<>();
            previous.ifPresent(p -> shards.addAll(shardsOf(p, split)));
            added.ifPresent(a -> shardsOf(a, split).forEach(s -> shards.add(s.withPath(addedPrefix + s.path()))));
            splits.put(split, Manifest.Split.of(shards));
        }
        Map<String, Long> skipped = new TreeMap<>();
        previous.ifPresent(p -> p.skippedDocuments().forEach((k, v) -> skipped.merge(k, v, Long::sum)));
        added.ifPresent(a -> a.skippedDocuments().forEach((k, v) -> skipped.merge(k, v, Long::sum)));
        return new Manifest(base.format(), base.formatVersion(), name, base.tokenizer(), base.config(),
                mixture(previous, added, splits.get(Manifest.TRAIN)), skipped, splits);
    }

    /**
     * Per language over the whole train split: available and written tokens summed over the versions, the reached
     * share recomputed; the target share, rate and copies of the latest refresh that saw the language (each
     * refresh samples its own new documents).
     */
    private static Map<String, MixturePlan.Language> mixture(Optional<Manifest> previous, Optional<Manifest> added,
                                                             Manifest.Split train) {
        Map<String, MixturePlan.Language> before = previous.map(Manifest::mixture).orElse(Map.of());
        Map<String, MixturePlan.Language> now = added.map(Manifest::mixture).orElse(Map.of());
        Map<String, MixturePlan.Language> out = new TreeMap<>();
        TreeSet<String> languages = new TreeSet<>(before.keySet());
        languages.addAll(now.keySet());
        for (String lang : languages) {
            MixturePlan.Language b = before.get(lang);
            MixturePlan.Language n = now.get(lang);
            MixturePlan.Language latest = n != null ? n : b;
            long available = (b == null ? 0 : b.availableTokens()) + (n == null ? 0 : n.availableTokens());
            long tokens = train.tokensPerLanguage().getOrDefault(lang, 0L);
            out.put(lang, new MixturePlan.Language(available, latest.targetShare(), latest.rate(),
                    Math.max(b == null ? 0 : b.maxCopies(), n == null ? 0 : n.maxCopies()), tokens,
                    train.tokens() == 0 ? 0 : (double) tokens / train.tokens()));
        }
        return out;
    }

    private static List<ShardInfo> shardsOf(Manifest manifest, String split) {
        Manifest.Split s = manifest.splits().get(split);
        return s == null ? List.of() : s.shards();
    }

    /** Refuses to join shards of two tokenizers; the message names both and what to do. */
    static void requireSameTokenizer(Manifest previous, Manifest added) {
        Manifest.TokenizerInfo p = previous.tokenizer();
        Manifest.TokenizerInfo a = added.tokenizer();
        if (!p.sha256().equals(a.sha256()) || p.eosId() != a.eosId() || p.bosId() != a.bosId()) {
            throw new UsageException("refresh: the new documents were tokenized with tokenizer " + a.sha256() + " ("
                    + a.path() + ", eos " + a.eosId() + ", bos " + a.bosId() + ") but version "
                    + previous.datasetVersion() + " was tokenized with " + p.sha256() + " (" + p.path() + ", eos "
                    + p.eosId() + ", bos " + p.bosId() + "): the versions of one dataset share one tokenizer. Set"
                    + " tokenizer= and the tokenize settings back to the dataset's, or refresh into a new --target");
        }
    }

    /**
     * Checks that every shard of {@code manifest} is still the file it lists (length, Arrow layout, counts, and
     * with {@code sha256} its SHA-256), so a new version never references a damaged or replaced shard.
     */
    static void verifyShards(FileSystem fs, Path versionsDir, Manifest manifest, boolean sha256) throws IOException {
        for (Manifest.Split split : manifest.splits().values()) {
            for (ShardInfo shard : split.shards()) {
                ShardReader.open(fs, new Path(versionsDir, shard.path()), shard, manifest.tokenizer().sha256(), sha256)
                        .close();
            }
        }
    }
}
