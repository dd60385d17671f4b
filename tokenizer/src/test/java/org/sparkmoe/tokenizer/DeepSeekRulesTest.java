package org.sparkmoe.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.pretokenize.Pieces;
import org.sparkmoe.tokenizer.pretokenize.PreTokenizer;
import org.sparkmoe.tokenizer.pretokenize.Scratch;

/** DeepSeek's pre-tokenizer rules: the letter class survives NFC hazards, and texts are cut as DeepSeek cuts them. */
class DeepSeekRulesTest {

    private static List<String> pieces(String text) {
        PreTokenizer rules = DeepSeekRules.preTokenizer();
        Pieces p = new Pieces();
        rules.split(text, 0, text.length(), p, new Scratch());
        List<String> out = new ArrayList<>();
        for (int i = 0; i < p.size(); i++) {
            out.add(text.substring(p.start(i), p.end(i)));
        }
        return out;
    }

    @Test
    void letterClassKeepsTheSixCodePointsThatNfcWouldRewrite() {
        Pattern letters = Pattern.compile("[" + DeepSeekRules.LETTERS + "]");
        for (int cp : new int[] {0x1F7D, 0x1FBE, 0x1FD3, 0x1FDB, 0x2126, 0x212A, 0x2128, 0x212D, 0x1E943}) {
            assertTrue(letters.matcher(Character.toString(cp)).matches(), Integer.toHexString(cp));
        }
        // NFC would turn "U+2128 U+212A-U+212D" into "U+2128 K-U+212D", a range that takes in CJK and much more.
        for (int cp : new int[] {0x4E00, 0x2000, 0x212E, '0', '_', 0x03CE - 0x100}) {
            assertFalse(letters.matcher(Character.toString(cp)).matches(), Integer.toHexString(cp));
        }
        assertTrue(DeepSeekRules.LETTERS.chars().allMatch(c -> c < 0x80), "the class is written in ASCII escapes");
    }

    @Test
    void cutsNewlinesLettersPunctuationCjkAndDigits() {
        assertEquals(List.of("Hello", ",", " world", "!!", "\n", "\n", "价格", "1", "2", "3", "元", "。"),
                pieces("Hello, world!!\n\n价格123元。"));
        // Rule 3's class [!-/:-~] includes ASCII letters (':'..'~'), so it re-cuts letter runs that mix ASCII and
        // other Latin letters: DeepSeek's real behaviour, which HF reproduces (HfParityTest checks trained ids).
        assertEquals(List.of("Stra", "ß", "e", " na", "ï", "ve", " Ωμέγα", "  "), pieces("Straße naïve Ωμέγα  "));
        assertEquals(List.of("x", " ", "٣"), pieces("x ٣"));
        assertEquals(List.of("한국어", " ", "テスト"), pieces("한국어 テスト"));
    }
}
