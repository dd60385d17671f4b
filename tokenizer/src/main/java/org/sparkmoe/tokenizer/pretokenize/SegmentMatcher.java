package org.sparkmoe.tokenizer.pretokenize;

/**
 * A hand-written matcher that cuts a piece exactly where a specific regex's successive {@code find()} calls would,
 * only faster. {@link #forRegex} picks one for the patterns we know; others stay on {@code java.util.regex}.
 * Each is checked against {@code java.util.regex} on random and real text ({@code SegmentMatcherTest}).
 */
interface SegmentMatcher {

    /** Appends the gap/match segments of {@code text[start, end)} to {@code scratch} (matches flagged !invert). */
    void segment(String text, int start, int end, boolean invert, Scratch scratch);

    /** A short name for logs and {@code toString()}. */
    String name();

    /** The hand-written matcher for {@code regex} compiled with {@code flags}, or null. */
    static SegmentMatcher forRegex(String regex, int flags) {
        if (regex.equals(TrailingSpace.PATTERN)) {
            return new TrailingSpace();
        }
        if (regex.equals(DigitGroups.PATTERN)) {
            return new DigitGroups();
        }
        if (regex.equals(DeepSeekV3Words.PATTERN)) {
            return new DeepSeekV3Words();
        }
        return CharClassRun.forRegex(regex, flags);
    }

    /** Appends a match at [from, to) and the gap before it, as every matcher does. */
    static int emit(Scratch scratch, int gapStart, int from, int to, boolean invert) {
        scratch.addSegment(gapStart, from, invert);
        scratch.addSegment(from, to, !invert);
        return to;
    }

    /** The code point at {@code i}, not reading past {@code end}. */
    static int codePointAt(String text, int i, int end) {
        char c = text.charAt(i);
        if (Character.isHighSurrogate(c) && i + 1 < end && Character.isLowSurrogate(text.charAt(i + 1))) {
            return Character.toCodePoint(c, text.charAt(i + 1));
        }
        return c;
    }
}
