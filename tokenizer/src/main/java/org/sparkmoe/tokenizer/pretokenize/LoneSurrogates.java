package org.sparkmoe.tokenizer.pretokenize;

/**
 * Text that is not valid UTF-16: every unpaired surrogate is replaced by U+FFFD before pre-tokenization, which is
 * what HF sees when such a Java string crosses into Rust (lossy conversion) and what UTF-8 cannot carry anyway.
 * So pieces, ids and the decoded text are those of the repaired string. Valid text is returned as is, uncopied.
 */
public final class LoneSurrogates {

    private LoneSurrogates() {}

    public static String replace(String text) {
        int first = firstUnpaired(text);
        if (first < 0) {
            return text;
        }
        char[] chars = text.toCharArray();
        for (int i = first; i < chars.length; i++) {
            char c = chars[i];
            if (Character.isHighSurrogate(c) && i + 1 < chars.length && Character.isLowSurrogate(chars[i + 1])) {
                i++;
            } else if (Character.isSurrogate(c)) {
                chars[i] = '\uFFFD';
            }
        }
        return new String(chars);
    }

    private static int firstUnpaired(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                    i++;
                } else {
                    return i;
                }
            }
        }
        return -1;
    }
}
