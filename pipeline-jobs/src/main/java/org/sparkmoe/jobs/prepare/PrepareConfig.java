package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.sparkmoe.jobs.cli.JobSettings;

/**
 * The validated settings of one prepare run (keys and defaults: conf/prepare.properties). Built on the driver;
 * the per-document parts travel to executors inside {@link DocumentPipeline}.
 */
public record PrepareConfig(
        List<String> inputs,
        String output,
        InputFormat format,
        InputFields fields,
        long splitBytes,
        boolean repairInvalidUtf8,
        int maxRecordBytes,
        int rejectSampleChars,
        boolean nfkc,
        double codeMinLineFraction,
        int codeMinLines,
        Set<String> keepLanguages,
        double minLanguageConfidence,
        String boilerplateRegex,
        double maxBoilerplateFraction,
        EnglishQualityRules.Thresholds english,
        ChineseQualityRules.Thresholds chinese,
        List<String> codeKeepLanguages,
        int codeMinLinesKept,
        int codeMaxLineLength,
        boolean exactDedup,
        boolean nearDedup,
        int shingleSize,
        int bands,
        int rows,
        long minhashSeed,
        double jaccardThreshold,
        int maxIterations,
        int outputPartitions) implements Serializable {

    /** Field names in JSONL and Parquet input. */
    public record InputFields(String text, String id, String source, String hint) implements Serializable {}

    private static final Set<String> LANGUAGES = Set.of(LanguageGuess.EN, LanguageGuess.ZH, LanguageGuess.CODE,
            LanguageGuess.OTHER);

    public static PrepareConfig from(JobSettings s) {
        String utf8 = s.string("decode.invalid-utf8");
        s.require(utf8.equals("reject") || utf8.equals("repair"), "decode.invalid-utf8", "reject or repair");
        Set<String> keep = Set.copyOf(s.list("lid.keep-languages"));
        s.require(LANGUAGES.containsAll(keep), "lid.keep-languages", "a comma list of en, zh, code, other");
        String regex = s.string("quality.boilerplate-regex");
        try {
            Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            s.require(false, "quality.boilerplate-regex", "a valid Java regular expression (" + e.getDescription() + ")");
        }
        int bands = positive(s, "minhash.bands");
        int rows = positive(s, "minhash.rows");
        return new PrepareConfig(
                s.list("input"),
                s.string("output"),
                InputFormat.parse(s),
                new InputFields(s.string("input.text-field"), s.string("input.id-field"),
                        s.string("input.source-field"), s.string("input.hint-field")),
                positiveLong(s, "input.split-bytes"),
                utf8.equals("repair"),
                positive(s, "decode.max-record-bytes"),
                positive(s, "decode.reject-sample-chars"),
                s.bool("clean.nfkc"),
                fraction(s, "lid.code-min-line-fraction"),
                positive(s, "lid.code-min-lines"),
                keep,
                fraction(s, "lid.min-confidence"),
                regex,
                fraction(s, "quality.max-boilerplate-fraction"),
                new EnglishQualityRules.Thresholds(
                        nonNegative(s, "quality.en.min-words"), positive(s, "quality.en.max-words"),
                        s.number("quality.en.min-mean-word-length"), s.number("quality.en.max-mean-word-length"),
                        fraction(s, "quality.en.max-symbol-word-ratio"), fraction(s, "quality.en.max-bullet-lines"),
                        fraction(s, "quality.en.max-ellipsis-lines"), fraction(s, "quality.en.min-alpha-words"),
                        nonNegative(s, "quality.en.min-stop-words"), repetition(s, "quality.en.max-dup-lines", "quality.en.max-dup-line-chars",
                                "quality.en.max-top-ngram", "quality.en.max-dup-ngram")),
                new ChineseQualityRules.Thresholds(
                        nonNegative(s, "quality.zh.min-chars"), positive(s, "quality.zh.max-chars"),
                        fraction(s, "quality.zh.min-cjk-ratio"), nonNegativeNumber(s, "quality.zh.min-char-entropy"),
                        nonNegative(s, "quality.zh.entropy-min-length"),
                        fraction(s, "quality.zh.max-digit-ratio"), repetition(s, "quality.zh.max-dup-lines", "quality.zh.max-dup-line-chars",
                                "quality.zh.max-top-ngram", "quality.zh.max-dup-ngram")),
                s.list("quality.code.keep-languages"),
                nonNegative(s, "quality.code.min-lines"),
                positive(s, "quality.code.max-line-length"),
                s.bool("dedup.exact"),
                s.bool("dedup.near"),
                positive(s, "minhash.shingle-size"),
                bands,
                rows,
                s.longValue("minhash.seed"),
                fraction(s, "minhash.jaccard-threshold"),
                positive(s, "dedup.max-iterations"),
                positive(s, "output.partitions"));
    }

    private static RepetitionLimits repetition(JobSettings s, String dupLines, String dupLineChars, String topNgram,
                                               String dupNgram) {
        List<Double> top = fractions(s, topNgram, 3);
        List<Double> dup = fractions(s, dupNgram, 6);
        return new RepetitionLimits(fraction(s, dupLines), fraction(s, dupLineChars), top, dup);
    }

    private static List<Double> fractions(JobSettings s, String key, int count) {
        List<String> items = s.list(key);
        s.require(items.size() == count, key, "a comma list of " + count + " numbers in 0..1");
        try {
            List<Double> values = items.stream().map(Double::parseDouble).toList();
            s.require(values.stream().allMatch(v -> v >= 0 && v <= 1), key, "a comma list of " + count
                    + " numbers in 0..1");
            return values;
        } catch (NumberFormatException e) {
            s.require(false, key, "a comma list of " + count + " numbers in 0..1");
            throw e;
        }
    }

    private static double fraction(JobSettings s, String key) {
        double v = s.number(key);
        s.require(v >= 0 && v <= 1, key, "a number in 0..1");
        return v;
    }

    private static double nonNegativeNumber(JobSettings s, String key) {
        double v = s.number(key);
        s.require(v >= 0, key, "a number >= 0");
        return v;
    }

    private static int positive(JobSettings s, String key) {
        int v = s.integer(key);
        s.require(v > 0, key, "a positive integer");
        return v;
    }

    private static long positiveLong(JobSettings s, String key) {
        long v = s.longValue(key);
        s.require(v > 0, key, "a positive integer");
        return v;
    }

    private static int nonNegative(JobSettings s, String key) {
        int v = s.integer(key);
        s.require(v >= 0, key, "an integer >= 0");
        return v;
    }
}
