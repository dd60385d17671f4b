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
 * which is what HF does when it hands the piece to the regex as its own string. Known patterns run on hand-written
 * matchers that cut identically ({@link SegmentMatcher}: one-class patterns on a lookup table, {@code \s+$},
 * {@code \p{N}{1,3}} and DeepSeek-V3's word rule directly); the choice is visible in {@link #toString()}.
 */
public final class Split implements PreTokenizer {

    private static final int FLAGS = Pattern.UNICODE_CHARACTER_CLASS | Pattern.MULTILINE | Pattern.UNIX_LINES;

    private final String pattern;
    private final boolean isRegex;
    private final SplitBehavior behavior;
    private final boolean invert;
    private final Pattern compiled;
    private final SegmentMatcher fast;

    private Split(String pattern, boolean isRegex, SplitBehavior behavior, boolean invert) {
        this.pattern = Objects.requireNonNull(pattern, "pattern");
        this.isRegex = isRegex;
        this.behavior = Objects.requireNonNull(behavior, "behavior");
        this.invert = invert;
        this.compiled = isRegex ? Pattern.compile(pattern, FLAGS) : Pattern.compile(Pattern.quote(pattern));
        this.fast = isRegex ? SegmentMatcher.forRegex(pattern, FLAGS) : null;
    }

    /** A regex split. Throws {@link PatternSyntaxException} when Java cannot compile the pattern. */
    public static Split regex(String pattern, SplitBehavior behavior, boolean invert) {
        return new Split(pattern, true, behavior, invert);
    }

    /** A split on a literal string. */
    public static Split literal(String text, SplitBehavior behavior, boolean invert) {
        return new Split(text, false, behavior, invert);
    }

    /** The pattern text exactly as in {@code tokenizer.json}. */
    public String pattern() {
        return pattern;
    }

    /** True for HF's {@code {"Regex": ...}}, false for a literal {@code {"String": ...}}. */
    public boolean isRegex() {
        return isRegex;
    }

    public SplitBehavior behavior() {
        return behavior;
    }

    public boolean invert() {
        return invert;
    }

    @Override
    public void refine(String text, Pieces pieces, Scratch scratch) {
        Pieces out = scratch.spare;
        out.clear();
        Matcher m = fast == null ? scratch.matcher(compiled, text) : null;
        for (int p = 0; p < pieces.size(); p++) {
            int start = pieces.start(p);
            int end = pieces.end(p);
            scratch.segments.clear();
            if (fast != null) {
                fast.segment(text, start, end, invert, scratch);
            } else {
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
            }
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

    @Override
    public String toString() {
        return "Split[" + (isRegex ? "regex " : "string ") + pattern + ", " + behavior + (invert ? ", inverted" : "")
                + ", " + (fast != null ? fast.name() : "java.util.regex") + "]";
    }
}
