package org.sparkmoe.jobs.prepare;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Per-script character and word counts of one text, the evidence {@link LanguageIdentifier} and the quality rules
 * work from. Han includes the CJK compatibility and extension blocks; kana covers Hiragana and Katakana.
 *
 * @param latinWords     lower-cased Latin-script words, the first {@link #MAX_WORDS} of them (enough evidence)
 * @param latinWordCount all Latin-script words
 */
public record ScriptCounts(int han, int kana, int hangul, int latinLetters, int nonAsciiLatinLetters,
                           List<String> latinWords, int latinWordCount, int otherAlphabeticWords, int letters) {

    static final int MAX_WORDS = 5000;

    public static ScriptCounts of(String text) {
        int han = 0;
        int kana = 0;
        int hangul = 0;
        int latin = 0;
        int nonAsciiLatin = 0;
        int otherWords = 0;
        int[] latinWordCount = {0};
        int letters = 0;
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        Character.UnicodeScript wordScript = null;
        int n = text.length();
        for (int i = 0; i < n; ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (!Character.isLetter(cp)) {
                if (wordScript != null) {
                    otherWords += endWord(wordScript, word, words, latinWordCount);
                    wordScript = null;
                }
                continue;
            }
            letters++;
            Character.UnicodeScript script = Character.UnicodeScript.of(cp);
            switch (script) {
                case HAN -> han++;
                case HIRAGANA, KATAKANA -> kana++;
                case HANGUL -> hangul++;
                default -> {
                    if (script == Character.UnicodeScript.LATIN) {
                        latin++;
                        if (cp > 0x7F) {
                            nonAsciiLatin++;
                        }
                    }
                    if (wordScript != null && wordScript != script) {
                        otherWords += endWord(wordScript, word, words, latinWordCount);
                    }
                    wordScript = script;
                    word.appendCodePoint(cp);
                    continue;
                }
            }
            if (wordScript != null) {
                otherWords += endWord(wordScript, word, words, latinWordCount);
                wordScript = null;
            }
        }
        if (wordScript != null) {
            otherWords += endWord(wordScript, word, words, latinWordCount);
        }
        return new ScriptCounts(han, kana, hangul, latin, nonAsciiLatin, words, latinWordCount[0], otherWords, letters);
    }

    /** Closes the current word; returns 1 when it was a non-Latin alphabetic word. */
    private static int endWord(Character.UnicodeScript script, StringBuilder word, List<String> words,
                               int[] latinWordCount) {
        int other = 0;
        if (script == Character.UnicodeScript.LATIN) {
            latinWordCount[0]++;
            if (words.size() < MAX_WORDS) {
                words.add(word.toString().toLowerCase(Locale.ROOT));
            }
        } else {
            other = 1;
        }
        word.setLength(0);
        return other;
    }

    /** Han, kana and Hangul characters together. */
    public int cjk() {
        return han + kana + hangul;
    }
}
