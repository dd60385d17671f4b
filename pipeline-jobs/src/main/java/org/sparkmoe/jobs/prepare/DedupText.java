package org.sparkmoe.jobs.prepare;

import java.util.Locale;

/**
 * The normalised forms of a text that deduplication compares.
 *
 * <ul>
 *   <li>{@link #exactKey}: whitespace collapsed and lower-cased (SOURCES.md's "whitespace/case normalisation"),
 *       hashed to 64 bits;</li>
 *   <li>{@link #tokenHashes}: the near-dup token stream: Latin/Cyrillic/... words lower-cased with digits folded
 *       to 0, and every Han character on its own, Traditional folded to Simplified; punctuation and whitespace
 *       dropped (CCNet/FineWeb-style normalisation, so curly vs straight quotes and zh_CN vs zh_TW do not
 *       matter).</li>
 * </ul>
 */
final class DedupText {

    private DedupText() {}

    static long exactKey(String text) {
        StringBuilder b = new StringBuilder(text.length());
        boolean space = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isWhitespace(c)) {
                space = !b.isEmpty();
            } else {
                if (space) {
                    b.append(' ');
                    space = false;
                }
                b.append(c);
            }
        }
        return Hashing.hashText(b.toString().toLowerCase(Locale.ROOT));
    }

    /** Token hashes of the near-dup stream, in order. */
    static long[] tokenHashes(String text) {
        long[] out = new long[Math.max(16, text.length() / 4)];
        int count = 0;
        long word = 0;
        boolean inWord = false;
        int n = text.length();
        for (int i = 0; i < n; ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            boolean ideograph = Character.isIdeographic(cp) || isKanaOrHangul(cp);
            if (!ideograph && Character.isLetterOrDigit(cp)) {
                int folded = Character.isDigit(cp) ? '0' : Character.toLowerCase(cp);
                word = (inWord ? word : 0xCBF29CE484222325L) ^ folded;
                word *= 0x100000001B3L;
                inWord = true;
                continue;
            }
            if (inWord) {
                out = append(out, count++, Hashing.mix64(word));
                inWord = false;
            }
            if (ideograph) {
                out = append(out, count++, Hashing.mix64(0x51A3L << 32 | HanVariants.simplify(cp)));
            }
        }
        if (inWord) {
            out = append(out, count++, Hashing.mix64(word));
        }
        return java.util.Arrays.copyOf(out, count);
    }

    private static boolean isKanaOrHangul(int cp) {
        Character.UnicodeScript s = Character.UnicodeScript.of(cp);
        return s == Character.UnicodeScript.HIRAGANA || s == Character.UnicodeScript.KATAKANA
                || s == Character.UnicodeScript.HANGUL;
    }

    private static long[] append(long[] a, int index, long value) {
        if (index == a.length) {
            a = java.util.Arrays.copyOf(a, a.length * 2);
        }
        a[index] = value;
        return a;
    }
}
