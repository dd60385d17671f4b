package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.text.Normalizer;

/**
 * Step 1 of prepare: makes decoded text clean and canonical, without judging it.
 *
 * <ul>
 *   <li>CRLF and lone CR become LF;</li>
 *   <li>ANSI escape sequences ({@code ESC [ ... m} colours, cursor moves) are removed;</li>
 *   <li>backspace overstrikes ({@code X\bX} bold, {@code _\bX} underline, as in man and fortune files) keep the
 *       final character;</li>
 *   <li>BOMs, other control characters (all of Cc except LF and TAB), zero-width spaces and unpaired surrogates
 *       are removed;</li>
 *   <li>Unicode NFKC (full-width ASCII, ideographic space and NBSP become their plain forms);</li>
 *   <li>whitespace: trailing spaces dropped, runs of spaces inside a line collapsed to one (leading indentation
 *       is kept: it is meaning in code and verse), whitespace-only lines emptied, at most one blank line in a
 *       row, no blank lines at either end.</li>
 * </ul>
 * Stateless and thread-safe.
 */
public final class TextCleaner implements Serializable {

    private final boolean nfkc;

    public TextCleaner(boolean nfkc) {
        this.nfkc = nfkc;
    }

    public String clean(String raw) {
        String text = stripControls(raw);
        if (nfkc && !Normalizer.isNormalized(text, Normalizer.Form.NFKC)) {
            text = Normalizer.normalize(text, Normalizer.Form.NFKC);
        }
        return normaliseWhitespace(text);
    }

    /** Line endings, escapes, overstrikes and invisible characters, in one pass. */
    static String stripControls(String s) {
        StringBuilder out = new StringBuilder(s.length());
        int n = s.length();
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c == '\r') {
                out.append('\n');
                if (i + 1 < n && s.charAt(i + 1) == '\n') {
                    i++;
                }
            } else if (c == '\u001b') {
                i = endOfEscape(s, i);
            } else if (c == '\b') {
                // Overstrike: the character after the backspace replaces the one before it.
                if (!out.isEmpty() && out.charAt(out.length() - 1) != '\n') {
                    out.setLength(out.length() - 1);
                }
            } else if (Character.isHighSurrogate(c)) {
                if (i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    out.append(c).append(s.charAt(++i));
                }
            } else if (Character.isLowSurrogate(c) || isInvisible(c)) {
                continue;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    private static boolean isInvisible(char c) {
        if (c == '\n' || c == '\t') {
            return false;
        }
        return Character.getType(c) == Character.CONTROL
                || c == '\uFEFF' || c == '\u200B' || c == '\u2060' || c == '\u00AD';
    }

    /** Index of the last character of the escape sequence that starts at {@code esc}. */
    private static int endOfEscape(String s, int esc) {
        int n = s.length();
        if (esc + 1 >= n) {
            return esc;
        }
        char kind = s.charAt(esc + 1);
        if (kind == '[') {
            // CSI: parameter and intermediate bytes, then one final byte in @..~
            int j = esc + 2;
            while (j < n && s.charAt(j) >= 0x20 && s.charAt(j) <= 0x3F) {
                j++;
            }
            while (j < n && s.charAt(j) >= 0x20 && s.charAt(j) <= 0x2F) {
                j++;
            }
            return j < n && s.charAt(j) >= 0x40 && s.charAt(j) <= 0x7E ? j : j - 1;
        }
        if (kind == ']') {
            // OSC: up to BEL or ESC \
            for (int j = esc + 2; j < n; j++) {
                if (s.charAt(j) == '\u0007') {
                    return j;
                }
                if (s.charAt(j) == '\u001b' && j + 1 < n && s.charAt(j + 1) == '\\') {
                    return j + 1;
                }
            }
            return n - 1;
        }
        // Two-character escapes such as ESC ( B or ESC =.
        return kind >= 0x40 && kind <= 0x5F || kind == '=' || kind == '>' ? esc + 1
                : (kind == '(' || kind == ')') && esc + 2 < n ? esc + 2 : esc;
    }

    static String normaliseWhitespace(String s) {
        StringBuilder out = new StringBuilder(s.length());
        StringBuilder line = new StringBuilder();
        boolean blankBefore = false;
        int start = 0;
        int n = s.length();
        while (start <= n) {
            int end = s.indexOf('\n', start);
            if (end < 0) {
                end = n;
            }
            line.setLength(0);
            appendLine(s, start, end, line);
            if (line.isEmpty()) {
                blankBefore = true;
            } else {
                if (!out.isEmpty()) {
                    out.append(blankBefore ? "\n\n" : "\n");
                }
                out.append(line);
                blankBefore = false;
            }
            start = end + 1;
        }
        return out.toString();
    }

    /** Appends one line with its leading indentation kept, inner space runs collapsed and trailing space dropped. */
    private static void appendLine(String s, int from, int to, StringBuilder out) {
        int i = from;
        while (i < to && isSpace(s.charAt(i))) {
            i++;
        }
        int lastNonSpace = to - 1;
        while (lastNonSpace >= i && isSpace(s.charAt(lastNonSpace))) {
            lastNonSpace--;
        }
        if (lastNonSpace < i) {
            return;
        }
        for (int k = from; k < i; k++) {
            out.append(s.charAt(k) == '\t' ? '\t' : ' ');
        }
        boolean inSpace = false;
        for (int k = i; k <= lastNonSpace; k++) {
            char c = s.charAt(k);
            if (isSpace(c)) {
                inSpace = true;
            } else {
                if (inSpace) {
                    out.append(' ');
                    inSpace = false;
                }
                out.append(c);
            }
        }
    }

    private static boolean isSpace(char c) {
        return c == ' ' || c == '\t' || c == '\u00A0' || c == '\u3000' || Character.isSpaceChar(c);
    }
}
