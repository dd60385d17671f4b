package org.sparkmoe.tokenizer.pretokenize;

import java.util.BitSet;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A table-driven matcher for the regex shapes DeepSeek-style rules are made of: {@code [C]}, {@code [C]+},
 * {@code \s?[C]} and {@code \s?[C]+} for one character class C. It finds exactly the matches
 * {@link java.util.regex.Matcher#find()} finds for those shapes, about 20 times faster on DeepSeek's letter class:
 * {@code java.util.regex} tests a class of a hundred ranges range by range, this looks a bit up.
 *
 * <p>Membership is computed once, by asking {@code java.util.regex} itself about every code point below U+30000
 * (the planes real text uses); rarer code points are asked at match time. So the table cannot disagree with the
 * regex it replaces.
 */
final class CharClassRun implements SegmentMatcher {

    private static final Pattern SHAPE = Pattern.compile("(\\\\s\\?)?(\\[(?:[^\\[\\]\\\\]|\\\\.)*])(\\+)?");
    private static final int TABLE_LIMIT = 0x30000;
    private static final BitSet SPACE = new BitSet(0x10000);

    static {
        Pattern space = Pattern.compile("\\s", Pattern.UNICODE_CHARACTER_CLASS);
        for (int cp = 0; cp < 0x10000; cp++) {
            if (space.matcher(String.valueOf((char) cp)).matches()) {
                SPACE.set(cp);
            }
        }
    }

    private final boolean leadingSpace;
    private final boolean repeat;
    private final BitSet members = new BitSet(TABLE_LIMIT);
    private final Pattern classPattern;

    private CharClassRun(boolean leadingSpace, boolean repeat, Pattern classPattern) {
        this.leadingSpace = leadingSpace;
        this.repeat = repeat;
        this.classPattern = classPattern;
        Matcher m = classPattern.matcher("");
        for (int cp = 0; cp < TABLE_LIMIT; cp++) {
            if (m.reset(Character.toString(cp)).matches()) {
                members.set(cp);
            }
        }
    }

    /** Tables are built once per pattern and process: building one asks the regex about 196,608 code points. */
    private static final ConcurrentHashMap<String, Optional<CharClassRun>> BUILT = new ConcurrentHashMap<>();

    /** The fast matcher for {@code regex}, or null when the regex is not one of the shapes it handles. */
    static CharClassRun forRegex(String regex, int flags) {
        return BUILT.computeIfAbsent(flags + ":" + regex, k -> {
            Matcher shape = SHAPE.matcher(regex);
            if (!shape.matches()) {
                return Optional.empty();
            }
            return Optional.of(new CharClassRun(shape.group(1) != null, shape.group(3) != null,
                    Pattern.compile(shape.group(2), flags)));
        }).orElse(null);
    }

    static boolean isSpace(char c) {
        return SPACE.get(c);
    }

    private boolean inClass(int cp) {
        return cp < TABLE_LIMIT ? members.get(cp) : classPattern.matcher(Character.toString(cp)).matches();
    }

    private static int codePointAt(String text, int i, int end) {
        return SegmentMatcher.codePointAt(text, i, end);
    }

    @Override
    public String name() {
        return "table-driven";
    }

    /** Index after the run of class members starting at {@code i} (just one member when the shape has no +). */
    private int runEnd(String text, int i, int end) {
        do {
            i += Character.charCount(codePointAt(text, i, end));
        } while (repeat && i < end && inClass(codePointAt(text, i, end)));
        return i;
    }

    /**
     * Appends to {@code scratch} the gap/match segments of {@code text[start, end)}, as the regex's successive
     * {@code find()} calls would cut it.
     */
    @Override
    public void segment(String text, int start, int end, boolean invert, Scratch scratch) {
        int gapStart = start;
        int i = start;
        while (i < end) {
            int cp = codePointAt(text, i, end);
            int next = i + Character.charCount(cp);
            int matchEnd = -1;
            if (leadingSpace && cp < 0x10000 && SPACE.get(cp) && next < end && inClass(codePointAt(text, next, end))) {
                matchEnd = runEnd(text, next, end);
            } else if (inClass(cp)) {
                matchEnd = runEnd(text, i, end);
            }
            if (matchEnd < 0) {
                i = next;
                continue;
            }
            scratch.addSegment(gapStart, i, invert);
            scratch.addSegment(i, matchEnd, !invert);
            gapStart = matchEnd;
            i = matchEnd;
        }
        scratch.addSegment(gapStart, end, invert);
    }
}
