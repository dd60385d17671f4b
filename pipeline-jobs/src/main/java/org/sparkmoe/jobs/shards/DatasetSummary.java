package org.sparkmoe.jobs.shards;

import java.util.Locale;
import java.util.Map;

/** The human-readable summary of a dataset version that tokenize and inspect print. */
final class DatasetSummary {

    private DatasetSummary() {}

    static String render(Manifest m) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "dataset %s (%s v%d)%n", m.datasetVersion(), m.format(), m.formatVersion()));
        Manifest.TokenizerInfo t = m.tokenizer();
        out.append(String.format(Locale.ROOT, "tokenizer %s%n  sha256 %s, vocabulary %d, eos %d, bos %s%n", t.path(),
                t.sha256(), t.vocabSize(), t.eosId(), t.bosId() < 0 ? "none" : Integer.toString(t.bosId())));
        for (Map.Entry<String, Manifest.Split> e : m.splits().entrySet()) {
            Manifest.Split s = e.getValue();
            out.append(String.format(Locale.ROOT, "%s: %d shards, %,d documents, %,d tokens%n", e.getKey(),
                    s.shards().size(), s.documents(), s.tokens()));
            s.tokensPerLanguage().forEach((lang, n) -> out.append(String.format(Locale.ROOT,
                    "  %-6s %,15d tokens  %6.2f%%%n", lang, n, s.tokens() == 0 ? 0.0 : 100.0 * n / s.tokens())));
        }
        if (!m.mixture().isEmpty()) {
            out.append("train mixture: language, available tokens, target share, rate (uses per document), max copies,"
                    + " reached share\n");
            m.mixture().forEach((lang, l) -> out.append(String.format(Locale.ROOT,
                    "  %-6s %,15d  %6.3f  %6.3f  %2d  %6.3f%n", lang, l.availableTokens(), l.targetShare(), l.rate(),
                    l.maxCopies(), l.reachedShare())));
        }
        long skipped = m.skippedDocuments().values().stream().mapToLong(Long::longValue).sum();
        if (skipped > 0) {
            out.append("skipped input documents: ").append(m.skippedDocuments()).append('\n');
        }
        return out.toString();
    }
}
