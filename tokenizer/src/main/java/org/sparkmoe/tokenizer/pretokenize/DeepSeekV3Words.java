package org.sparkmoe.tokenizer.pretokenize;

/**
 * A direct matcher for DeepSeek-V3's main pre-tokenizer rule (a GPT-4o-style alternation), which
 * {@code java.util.regex} runs at a few MB/s. At each position the alternatives are tried in the regex's order and
 * the first that matches wins, with the backtracking each quantifier would do:
 * <ol>
 *   <li>{@code [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+} — one ASCII punctuation mark and ASCII letters;</li>
 *   <li>{@code [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+} — an optional non-letter/punctuation/symbol (a space, a
 *       digit, a mark...) and a run of letters and marks;</li>
 *   <li>{@code  ?[\p{P}\p{S}]+[\r\n]*} — an optional space, punctuation and symbols, trailing newlines;</li>
 *   <li>{@code \s*[\r\n]+} — whitespace up to and including its last newline;</li>
 *   <li>{@code \s+(?!\S)} — whitespace but the last one before a non-space (all of it at the end);</li>
 *   <li>{@code \s+} — whitespace.</li>
 * </ol>
 */
final class DeepSeekV3Words implements SegmentMatcher {

    static final String PATTERN = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
            + "|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

    private static final int LETTER = 1;
    private static final int MARK = 2;
    private static final int PUNCTUATION = 4;
    private static final int SYMBOL = 8;
    private static final byte[] BMP_KINDS = new byte[0x10000];

    static {
        for (int c = 0; c < 0x10000; c++) {
            BMP_KINDS[c] = (byte) kindOf(c);
        }
    }

    private static int kindOf(int cp) {
        return switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                 Character.MODIFIER_LETTER, Character.OTHER_LETTER -> LETTER;
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK -> MARK;
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> PUNCTUATION;
            case Character.MATH_SYMBOL, Character.CURRENCY_SYMBOL, Character.MODIFIER_SYMBOL,
                 Character.OTHER_SYMBOL -> SYMBOL;
            default -> 0;
        };
    }

    private static int kind(int cp) {
        return cp < 0x10000 ? BMP_KINDS[cp] : kindOf(cp);
    }

    private static boolean isAsciiPunctuation(int c) {
        return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    }

    private static boolean isSpace(int cp) {
        return cp < 0x10000 && CharClassRun.isSpace((char) cp);
    }

    private static boolean isNewline(char c) {
        return c == '\r' || c == '\n';
    }

    /** End of the run of code points whose kind is in {@code kinds}, starting at {@code i}. */
    private static int run(String text, int i, int end, int kinds) {
        while (i < end) {
            int cp = SegmentMatcher.codePointAt(text, i, end);
            if ((kind(cp) & kinds) == 0) {
                break;
            }
            i += Character.charCount(cp);
        }
        return i;
    }

    private static int newlines(String text, int i, int end) {
        while (i < end && isNewline(text.charAt(i))) {
            i++;
        }
        return i;
    }

    /** End of the match starting at {@code i}, or -1 when no alternative matches there. */
    static int matchAt(String text, int i, int end) {
        int c0 = SegmentMatcher.codePointAt(text, i, end);
        int next = i + Character.charCount(c0);
        int k0 = kind(c0);
        if (c0 < 0x80 && isAsciiPunctuation(c0) && next < end && isAsciiLetter(text.charAt(next))) {
            int j = next;
            while (j < end && isAsciiLetter(text.charAt(j))) {
                j++;
            }
            return j;
        }
        if (c0 != '\r' && c0 != '\n' && (k0 & (LETTER | PUNCTUATION | SYMBOL)) == 0 && next < end
                && (kind(SegmentMatcher.codePointAt(text, next, end)) & (LETTER | MARK)) != 0) {
            return run(text, next, end, LETTER | MARK);
        }
        if ((k0 & (LETTER | MARK)) != 0) {
            return run(text, i, end, LETTER | MARK);
        }
        if (c0 == ' ' && next < end
                && (kind(SegmentMatcher.codePointAt(text, next, end)) & (PUNCTUATION | SYMBOL)) != 0) {
            return newlines(text, run(text, next, end, PUNCTUATION | SYMBOL), end);
        }
        if ((k0 & (PUNCTUATION | SYMBOL)) != 0) {
            return newlines(text, run(text, i, end, PUNCTUATION | SYMBOL), end);
        }
        if (isSpace(c0)) {
            int w = i;
            while (w < end && isSpace(text.charAt(w))) {
                w++;
            }
            for (int k = w - 1; k >= i; k--) {
                if (isNewline(text.charAt(k))) {
                    return k + 1;
                }
            }
            if (w == end || w - i == 1) {
                return w;
            }
            return w - 1;
        }
        return -1;
    }

    @Override
    public String name() {
        return "direct";
    }

    @Override
    public void segment(String text, int start, int end, boolean invert, Scratch scratch) {
        int gapStart = start;
        int i = start;
        while (i < end) {
            int matchEnd = matchAt(text, i, end);
            if (matchEnd < 0) {
                i += Character.charCount(SegmentMatcher.codePointAt(text, i, end));
                continue;
            }
            gapStart = SegmentMatcher.emit(scratch, gapStart, i, matchEnd, invert);
            i = matchEnd;
        }
        scratch.addSegment(gapStart, end, invert);
    }
}
