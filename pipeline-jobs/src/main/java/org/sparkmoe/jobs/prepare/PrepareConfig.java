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
        String utf8 = s.string("decode.invalid_utf8");
        s.require(utf8.equals("reject") || utf8.equals("repair"), "decode.invalid_utf8", "reject or repair");
        Set<String> keep = Set.copyOf(s.list("lid.keep_languages"));
        s.require(LANGUAGES.containsAll(keep), "lid.keep_languages", "a comma list of en, zh, code, other");
        String regex = s.string("quality.boilerplate_regex");
        try {
            Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            s.require(false, "quality.boilerplate_regex", "a valid Java regular expression (" + e.getDescription() + ")");
        }
        int bands = positive(s, "minhash.bands");
        int rows = positive(s, "minhash.rows");
        return new PrepareConfig(
                s.list("input"),
                s.string("output"),
                InputFormat.parse(s),
                new InputFields(s.string("input.text_field"), s.string("input.id_field"),
                        s.string("input.source_field"), s.string("input.hint_field")),
                positiveLong(s, "input.split_bytes"),
                utf8.equals("repair"),
                positive(s, "decode.max_record_bytes"),
                positive(s, "decode.reject_sample_chars"),
                s.bool("clean.nfkc"),
                fraction(s, "lid.code_min_line_fraction"),
                positive(s, "lid.code_min_lines"),
                keep,
                fraction(s, "lid.min_confidence"),
                regex,
                fraction(s, "quality.max_boilerplate_fraction"),
                new EnglishQualityRules.Thresholds(
                        nonNegative(s, "quality.en.min_words"), positive(s, "quality.en.max_words"),
                        s.number("quality.en.min_mean_word_length"), s.number("quality.en.max_mean_word_length"),
                        fraction(s, "quality.en.max_symbol_word_ratio"), fraction(s, "quality.en.max_bullet_lines"),
                        fraction(s, "quality.en.max_ellipsis_lines"), fraction(s, "quality.en.min_alpha_words"),
                        nonNegative(s, "quality.en.min_stop_words"), repetition(s, "quality.en.")),
                new ChineseQualityRules.Thresholds(
                        nonNegative(s, "quality.zh.min_chars"), positive(s, "quality.zh.max_chars"),
                        fraction(s, "quality.zh.min_cjk_ratio"), nonNegativeNumber(s, "quality.zh.min_char_entropy"),
                        nonNegative(s, "quality.zh.entropy_min_length"),
                        fraction(s, "quality.zh.max_digit_ratio"), repetition(s, "quality.zh.")),
                s.list("quality.code.keep_languages"),
                nonNegative(s, "quality.code.min_lines"),
                positive(s, "quality.code.max_line_length"),
                s.bool("dedup.exact"),
                s.bool("dedup.near"),
                positive(s, "minhash.shingle_size"),
                bands,
                rows,
                s.longValue("minhash.seed"),
                fraction(s, "minhash.jaccard_threshold"),
                positive(s, "dedup.max_iterations"),
                positive(s, "output.partitions"));
    }

    private static RepetitionLimits repetition(JobSettings s, String prefix) {
        List<Double> top = fractions(s, prefix + "max_top_ngram", 3);
        List<Double> dup = fractions(s, prefix + "max_dup_ngram", 6);
        return new RepetitionLimits(fraction(s, prefix + "max_dup_lines"), fraction(s, prefix + "max_dup_line_chars"),
                top, dup);
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
