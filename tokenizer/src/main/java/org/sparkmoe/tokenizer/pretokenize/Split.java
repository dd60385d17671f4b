package org.sparkmoe.tokenizer.pretokenize;

import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * HF's {@code Split} pre-tokenizer: find every match of a pattern in a piece and cut around the matches according
 * to {@link SplitBehavior}; {@code invert} swaps the roles of matches and gaps.
 *
 * <p>HF evaluates patterns with Oniguruma (Ruby syntax, Unicode classes). The Java translation keeps the pattern text
 * unchanged and compiles it with {@link Pattern#UNICODE_CHARACTER_CLASS} (so {@code \s} is Unicode White_Space, as
 * in Oniguruma) and {@link Pattern#MULTILINE} with {@link Pattern#UNIX_LINES} (so {@code $} means "before a
 * {@code \n} or at the end", Ruby's meaning). Matching runs on the piece as a region with opaque, anchoring bounds,
 * which is what HF does when it hands the piece to the regex as its own string.
 *
 * @param pattern     the pattern text exactly as in {@code tokenizer.json}
 * @param isRegex     true for HF's {@code {"Regex": ...}}, false for a literal {@code {"String": ...}}
 * @param behavior    what to do with matches
 * @param invert      true to treat gaps as matches
 */
public record Split(String pattern, boolean isRegex, SplitBehavior behavior, boolean invert, Pattern compiled)
        implements PreTokenizer {

    private static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS | Pattern.MULTILINE | Pattern.UNIX_LINES;

    public Split {
        Objects.requireNonNull(pattern, "pattern");
        Objects.requireNonNull(behavior, "behavior");
        Objects.requireNonNull(compiled, "compiled");
    }

    /** A regex split. Throws {@link PatternSyntaxException} when Java cannot compile the pattern. */
    public static Split regex(String pattern, SplitBehavior behavior, boolean invert) {
        return new Split(pattern, true, behavior, invert, Pattern.compile(pattern, FLAGS));
    }

    /** A split on a literal string. */
    public static Split literal(String text, SplitBehavior behavior, boolean invert) {
        return new Split(text, false, behavior, invert, Pattern.compile(Pattern.quote(text)));
    }

    @Override
    public void refine(String text, Pieces pieces, Scratch scratch) {
        Pieces out = scratch.spare;
        out.clear();
        Matcher m = scratch.matcher(compiled, text);
        for (int p = 0; p < pieces.size(); p++) {
            int start = pieces.start(p);
            int end = pieces.end(p);
            scratch.segments.clear();
            m.region(start, end);
            int previous = start;
            while (m.find()) {
                if (m.start() == m.end()) {
                    continue; // an empty match cuts nothing
                }
                scratch.addSegment(previous, m.start(), invert);
                scratch.addSegment(m.start(), m.end(), !invert);
                previous = m.end();
            }
            scratch.addSegment(previous, end, invert);
            behavior.emit(scratch.segments, scratch.segmentIsMatch, out);
        }
        pieces.swap(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Split s && s.pattern.equals(pattern) && s.isRegex == isRegex && s.behavior == behavior
                && s.invert == invert;
    }

    @Override
    public int hashCode() {
        return Objects.hash(pattern, isRegex, behavior, invert);
    }
}
