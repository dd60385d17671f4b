package org.sparkmoe.jobs.prepare;

import java.util.List;
import org.sparkmoe.jobs.cli.JobOption;

/** Every key of the prepare job, documented; the defaults are in conf/prepare.properties. */
final class PrepareOptions {

    private PrepareOptions() {}

    static final List<JobOption> ALL = List.of(
            JobOption.repeatable("input", "input files, directories or globs, any Hadoop URI (file://, hdfs://, ...);"
                    + " repeat --input for several", true),
            JobOption.required("output", "output directory (any Hadoop URI): kept/, rejected/, report.json;"
                    + " published atomically, replacing a previous output"),
            JobOption.of("input.format", "auto | jsonl | parquet | text. auto: *.parquet is Parquet, *.txt is plain"
                    + " text (one document per file), anything else JSON Lines"),
            JobOption.of("input.text_field", "JSONL/Parquet field holding the document text"),
            JobOption.of("input.id_field", "field holding the document id; missing ids become FILE@BYTE_OFFSET"),
            JobOption.of("input.source_field", "field holding the document's source; missing: the file URI"),
            JobOption.of("input.hint_field", "field holding the source's language hint (recorded, never trusted)"),
            JobOption.of("input.split_bytes", "JSONL files are read in splits of this many bytes (one task each)"),
            JobOption.of("decode.invalid_utf8", "reject | repair: a record with invalid UTF-8 is rejected"
                    + " (reason invalid_utf8) or decoded with U+FFFD replacements"),
            JobOption.of("decode.max_record_bytes", "records (JSONL lines, text files) longer than this are rejected"
                    + " as record_too_large without being held in memory"),
            JobOption.of("decode.reject_sample_chars", "how much of an undecodable record rejected/ keeps, in chars"),
            JobOption.of("clean.nfkc", "apply Unicode NFKC to the text (true | false)"),
            JobOption.of("lid.code_min_line_fraction", "a document is code when at least this share of its"
                    + " non-blank lines look like code ..."),
            JobOption.of("lid.code_min_lines", "... and at least this many lines do"),
            JobOption.of("lid.keep_languages", "languages kept after identification (en, zh, code, other);"
                    + " others are rejected with reason lang_<lang>"),
            JobOption.of("lid.min_confidence", "documents identified with lower confidence are rejected"
                    + " (reason lang_low_confidence), 0..1"),
            JobOption.of("quality.boilerplate_regex", "Java regex; matching lines (licence headers, navigation bars)"
                    + " are removed from en and zh documents"),
            JobOption.of("quality.max_boilerplate_fraction", "a document whose lines are more boilerplate than this"
                    + " share is rejected (reason boilerplate)"),
            JobOption.of("quality.en.min_words", "English: fewest whitespace-separated words"),
            JobOption.of("quality.en.max_words", "English: most words"),
            JobOption.of("quality.en.min_mean_word_length", "English: shortest mean word length, characters"),
            JobOption.of("quality.en.max_mean_word_length", "English: longest mean word length, characters"),
            JobOption.of("quality.en.max_symbol_word_ratio", "English: most '#' and ellipsis words per word"),
            JobOption.of("quality.en.max_bullet_lines", "English: largest share of lines that start with a bullet"),
            JobOption.of("quality.en.max_ellipsis_lines", "English: largest share of lines ending in an ellipsis"),
            JobOption.of("quality.en.min_alpha_words", "English: smallest share of words that contain a letter"),
            JobOption.of("quality.en.min_stop_words", "English: fewest Gopher stop words (the, be, to, of, and,"
                    + " that, have, with)"),
            JobOption.of("quality.en.max_dup_lines", "English: largest share of lines repeating an earlier line"),
            JobOption.of("quality.en.max_dup_line_chars", "English: largest share of characters in repeated lines"),
            JobOption.of("quality.en.max_top_ngram", "English: for word 2-, 3-, 4-grams, the largest share of"
                    + " characters covered by the most frequent n-gram (comma list of 3)"),
            JobOption.of("quality.en.max_dup_ngram", "English: for word 5- … 10-grams, the largest share of characters"
                    + " in repeated n-grams (comma list of 6)"),
            JobOption.of("quality.zh.min_chars", "Chinese: fewest Han/kana/Hangul characters"),
            JobOption.of("quality.zh.max_chars", "Chinese: most non-space characters"),
            JobOption.of("quality.zh.min_cjk_ratio", "Chinese: smallest share of CJK among non-space characters"),
            JobOption.of("quality.zh.min_char_entropy", "Chinese: smallest character unigram entropy, nats ..."),
            JobOption.of("quality.zh.entropy_min_length", "... checked only from this many characters"),
            JobOption.of("quality.zh.max_digit_ratio", "Chinese: largest share of digits"),
            JobOption.of("quality.zh.max_dup_lines", "Chinese: largest share of lines repeating an earlier line"),
            JobOption.of("quality.zh.max_dup_line_chars", "Chinese: largest share of characters in repeated lines"),
            JobOption.of("quality.zh.max_top_ngram", "Chinese: as the English key, over character 2-, 3-, 4-grams"),
            JobOption.of("quality.zh.max_dup_ngram", "Chinese: as the English key, over character 5- … 10-grams"),
            JobOption.of("quality.code.keep_languages", "code keep-list: python, java, perl, c, shell, javascript,"
                    + " unknown; code in other languages is rejected (reason code_not_in_keep_list)"),
            JobOption.of("quality.code.min_lines", "code: fewest non-blank lines"),
            JobOption.of("quality.code.max_line_length", "code: longest line (minified/generated files are longer)"),
            JobOption.of("dedup.exact", "remove documents whose whitespace/case-normalised text repeats (true|false)"),
            JobOption.of("dedup.near", "remove near-duplicates with MinHash LSH (true | false)"),
            JobOption.of("minhash.shingle_size", "near-dup shingle length in tokens (a token is a word or a Han"
                    + " character)"),
            JobOption.of("minhash.bands", "LSH bands; a pair at Jaccard s is a candidate with 1-(1-s^rows)^bands"),
            JobOption.of("minhash.rows", "MinHash slots per band"),
            JobOption.of("minhash.seed", "seed of the MinHash hash functions (changing it changes every signature)"),
            JobOption.of("minhash.jaccard_threshold", "candidate pairs whose estimated Jaccard similarity is below"
                    + " this are dropped before grouping"),
            JobOption.of("dedup.max_iterations", "connected-components rounds before the job fails"),
            JobOption.of("output.partitions", "Parquet files in kept/ and in rejected/ (rows hash-partitioned and"
                    + " sorted by id, so reruns are byte-identical)"));
}
