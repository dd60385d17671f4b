package org.sparkmoe.tokenizer.pretokenize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.sparkmoe.tokenizer.testing.TestCorpus;

/** Every hand-written matcher cuts exactly where java.util.regex's find() does, on random and real text. */
class SegmentMatcherTest {

    private static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS | Pattern.MULTILINE | Pattern.UNIX_LINES;

    private static final List<String> PATTERNS = List.of(DeepSeekRules.NEWLINE, DeepSeekRules.LETTER_RUN,
            DeepSeekRules.PUNCTUATION_RUN, DeepSeekRules.TRAILING_SPACE, DeepSeekRules.CJK_RUN, DigitGroups.PATTERN,
            "[\\u4e00-\\u9fa5\\u3040-\\u309f\\u30a0-\\u30ff]+", DeepSeekV3Words.PATTERN);

    /** Characters that exercise every branch: ASCII, spaces and newlines, marks, CJK, digits, symbols, emoji. */
    private static final String ALPHABET = "aZq'-.!?$+ \t\n\r\u00a0\u3000\u0301\u0300ßéΩ中文の한٣3 7,。！“”…€😀𝐀\u2028\u0085_#";

    private static String random(Random r, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.appendCodePoint(ALPHABET.codePoints().toArray()[r.nextInt((int) ALPHABET.codePoints().count())]);
        }
        return sb.toString();
    }

    private static List<Integer> viaRegex(String pattern, String text, int start, int end) {
        List<Integer> out = new ArrayList<>();
        Matcher m = Pattern.compile(pattern, FLAGS).matcher(text).region(start, end);
        while (m.find()) {
            if (m.end() > m.start()) {
                out.add(m.start());
                out.add(m.end());
            }
        }
        return out;
    }

    private static List<Integer> viaMatcher(SegmentMatcher matcher, String text, int start, int end) {
        Scratch scratch = new Scratch();
        scratch.segments.clear();
        matcher.segment(text, start, end, false, scratch);
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < scratch.segments.size(); i++) {
            if (scratch.segmentIsMatch[i]) {
                out.add(scratch.segments.start(i));
                out.add(scratch.segments.end(i));
            }
        }
        return out;
    }

    @Test
    void handWrittenMatchersAgreeWithJavaRegex() {
        Random r = new Random(42);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            texts.add(random(r, 1 + r.nextInt(40)));
        }
        TestCorpus.texts(TestCorpus.root().resolve("corpus/validation/zh.jsonl")).stream().limit(60)
                .forEach(texts::add);
        TestCorpus.texts(TestCorpus.root().resolve("corpus/validation/en.jsonl")).stream().limit(20)
                .forEach(texts::add);
        for (String pattern : PATTERNS) {
            SegmentMatcher matcher = SegmentMatcher.forRegex(pattern, FLAGS);
            assertNotNull(matcher, pattern);
            for (String text : texts) {
                int start = text.length() > 4 ? 1 : 0;
                assertEquals(viaRegex(pattern, text, start, text.length()), viaMatcher(matcher, text, start,
                        text.length()), () -> pattern + " on " + text.codePoints()
                        .mapToObj(Integer::toHexString).toList());
            }
        }
    }
}
