package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/**
 * The per-document stages of prepare, run inside one Spark task: clean, identify the language, apply the quality
 * rules, and compute the dedup keys (exact hash and MinHash signature) of documents that pass. The cross-document
 * stages (exact and near dedup) run afterwards on Spark. Produces one {@link PrepareSchema#DOCUMENT} row per input
 * record, rejected or not.
 */
final class DocumentPipeline implements Serializable {

    private final TextCleaner cleaner;
    private final LanguageIdentifier identifier;
    private final EnglishQualityRules english;
    private final ChineseQualityRules chinese;
    private final CodeQualityRules code;
    private final MinHashSignature minHash;
    private final PrepareConfig config;
    private transient Pattern boilerplate;

    DocumentPipeline(PrepareConfig config) {
        this.config = config;
        this.cleaner = new TextCleaner(config.nfkc());
        this.identifier = new LanguageIdentifier(new CodeDetector(config.codeMinLineFraction(), config.codeMinLines()));
        this.english = new EnglishQualityRules(config.english());
        this.chinese = new ChineseQualityRules(config.chinese());
        this.code = new CodeQualityRules(config.codeKeepLanguages(), config.codeMinLinesKept(),
                config.codeMaxLineLength());
        this.minHash = new MinHashSignature(config.shingleSize(), config.bands() * config.rows(), config.minhashSeed());
    }

    Row process(RawDocument raw) {
        if (raw.decodeReject() != null) {
            return row(raw, raw.text(), null, null, PrepareSchema.STAGE_DECODE, raw.decodeReject(), null, null);
        }
        String text = cleaner.clean(raw.text());
        if (text.isEmpty()) {
            return row(raw, text, null, null, PrepareSchema.STAGE_CLEAN, "empty", null, null);
        }
        LanguageGuess guess = identifier.identify(text);
        if (!config.keepLanguages().contains(guess.lang())) {
            return row(raw, text, guess, null, PrepareSchema.STAGE_LANGUAGE, "lang_" + guess.lang(), null, null);
        }
        if (guess.confidence() < config.minLanguageConfidence()) {
            return row(raw, text, guess, null, PrepareSchema.STAGE_LANGUAGE, "lang_low_confidence", null, null);
        }
        QualityResult quality = quality(text, guess);
        if (!quality.passed()) {
            return row(raw, quality.text(), guess, quality.stats(), PrepareSchema.STAGE_QUALITY, quality.reason(),
                    null, null);
        }
        String kept = quality.text();
        return row(raw, kept, guess, quality.stats(), null, null, DedupText.exactKey(kept), minHash.of(kept));
    }

    QualityResult quality(String text, LanguageGuess guess) {
        if (guess.lang().equals(LanguageGuess.CODE)) {
            List<String> lines = Repetition.lines(text);
            QualityStats stats = new QualityStats(text.codePointCount(0, text.length()), lines.size(), lines.size(),
                    0.0, Repetition.duplicateLineFraction(lines), 0);
            return new QualityResult(text, stats, code.check(guess.codeLanguage(), lines));
        }
        int removed = 0;
        int nonBlank = 1;
        String cleaned = text;
        // One scan of the whole text first: most documents have no boilerplate line at all.
        if (boilerplate().matcher(text).find()) {
            List<String> all = text.lines().toList();
            List<String> body = new ArrayList<>(all.size());
            nonBlank = 0;
            for (String line : all) {
                if (!line.isBlank()) {
                    nonBlank++;
                    if (boilerplate().matcher(line).find()) {
                        removed++;
                        continue;
                    }
                }
                body.add(line);
            }
            cleaned = TextCleaner.normaliseWhitespace(String.join("\n", body));
        }
        List<String> lines = Repetition.lines(cleaned);
        ScriptCounts counts = ScriptCounts.of(cleaned);
        int nonSpace = (int) cleaned.codePoints().filter(cp -> !Character.isWhitespace(cp)).count();
        boolean zh = guess.lang().equals(LanguageGuess.ZH);
        int words = zh ? counts.cjk() + counts.latinWordCount() : cleaned.isBlank() ? 0 : cleaned.strip().split("\\s+").length;
        QualityStats stats = new QualityStats(cleaned.codePointCount(0, cleaned.length()), words, lines.size(),
                nonSpace == 0 ? 0.0 : (double) counts.cjk() / nonSpace, Repetition.duplicateLineFraction(lines),
                removed);
        String reason;
        if ((double) removed / nonBlank > config.maxBoilerplateFraction()) {
            reason = "boilerplate";
        } else if (cleaned.isEmpty()) {
            reason = "empty";
        } else {
            // Other languages (when kept) have no rules of their own: the English ones would misjudge them.
            reason = zh ? chinese.check(cleaned, lines, counts)
                    : guess.lang().equals(LanguageGuess.EN) ? english.check(cleaned, lines) : null;
        }
        return new QualityResult(cleaned, stats, reason);
    }

    private Pattern boilerplate() {
        if (boilerplate == null) {
            // MULTILINE: ^ and $ anchor at line ends in the whole-text scan, as they do per line.
            boilerplate = Pattern.compile(config.boilerplateRegex(), Pattern.MULTILINE);
        }
        return boilerplate;
    }

    private static Row row(RawDocument raw, String text, LanguageGuess guess, QualityStats stats, String stage,
                           String reason, Long exactKey, byte[] signature) {
        return RowFactory.create(raw.id(), raw.source(), guess == null ? null : guess.lang(), text, raw.langHint(),
                guess == null ? null : guess.confidence(), guess == null ? null : guess.mixedness(),
                guess == null ? null : guess.codeLanguage(), raw.bytes(),
                stats == null ? null : stats.chars(), stats == null ? null : stats.words(),
                stats == null ? null : stats.lines(), stats == null ? null : stats.cjkRatio(),
                stats == null ? null : stats.dupLineFraction(), stats == null ? null : stats.boilerplateLines(),
                stage, reason, null, exactKey, signature, raw.origin(), raw.offset());
    }
}
