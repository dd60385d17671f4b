package org.sparkmoe.tokenizer.pretokenize;

import java.util.List;

/**
 * DeepSeek LLM's pre-tokenizer (DeepSeek LLM / DeepSeekMoE / V2 {@code tokenizer.json}, the same list as llama.cpp's
 * {@code DEEPSEEK_LLM} case): the default rules of tokenizers we train.
 *
 * <ol>
 *   <li>{@code [\r\n]}: every newline character is its own piece;</li>
 *   <li>an optional whitespace and a run of letters from an explicit list of Latin, Greek, Cyrillic, Armenian,
 *       Georgian, Cherokee, Glagolitic, Coptic and a few supplementary scripts (not {@code \p{L}});</li>
 *   <li>an optional whitespace and a run of ASCII / full-width punctuation, U+2018..U+201F and U+3000..U+3002;</li>
 *   <li>trailing whitespace;</li>
 *   <li>runs of CJK: U+4E00..U+9FA5, U+0800..U+4E00 (kana, CJK punctuation and much more) and Hangul syllables;</li>
 *   <li>every numeric character on its own ({@code Digits(individual_digits=true)});</li>
 *   <li>{@code ByteLevel(add_prefix_space=false, use_regex=false)}.</li>
 * </ol>
 * Every split is {@code Isolated}: matches and the gaps between them become pieces.
 *
 * <p>The character classes are written as {@code \\uXXXX} regex escapes on purpose: if the pattern text ever passes
 * through Unicode NFC (an editor, a copy-paste), six code points of the letter class (U+1F7D, U+1FBE, U+1FD3,
 * U+1FDB, U+2126, U+212A) are canonicalised and the range U+2128, U+212A..U+212D silently becomes the range
 * K..U+212D (U+004B..U+212D). Escapes survive any such tool. {@code DeepSeekRulesTest} pins the class.
 */
public final class DeepSeekRules {

    private DeepSeekRules() {}

    /** The letter class of rule 2, without brackets. */
    public static final String LETTERS = "A-Za-z\\u00B5\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u01BA\\u01BC-\\u01BF\\u01C4-\\u0293\\u0295-\\u02AF\\u0370"
            + "-\\u0373\\u0376\\u0377\\u037B-\\u037D\\u037F\\u0386\\u0388-\\u038A\\u038C\\u038E-\\u03A1\\u03A3-\\u03F5\\u03F7-"
            + "\\u0481\\u048A-\\u052F\\u0531-\\u0556\\u10A0-\\u10C5\\u13A0-\\u13F5\\u13F8-\\u13FD\\u1C90-\\u1CBA\\u1CBD-"
            + "\\u1CBF\\u1D00-\\u1D2B\\u1D6B-\\u1D77\\u1D79-\\u1D9A\\u1E00-\\u1F15\\u1F18-\\u1F1D\\u1F20-\\u1F45\\u1F48-"
            + "\\u1F4D\\u1F50-\\u1F57\\u1F59\\u1F5B\\u1F5D\\u1F5F-\\u1F7D\\u1F80-\\u1FB4\\u1FB6-\\u1FBC\\u1FBE\\u1FC2-\\u1FC4"
            + "\\u1FC6-\\u1FCC\\u1FD0-\\u1FD3\\u1FD6-\\u1FDB\\u1FE0-\\u1FEC\\u1FF2-\\u1FF4\\u1FF6-\\u1FFC\\u2102\\u2107\\u210A"
            + "-\\u2113\\u2115\\u2119-\\u211D\\u2124\\u2126\\u2128\\u212A-\\u212D\\u212F-\\u2134\\u2139\\u213C-\\u213F\\u2145-"
            + "\\u2149\\u214E\\u2183\\u2184\\u2C00-\\u2C7B\\u2C7E-\\u2CE4\\u2CEB-\\u2CEE\\u2CF2\\u2CF3\\uA640-\\uA66D\\uA680-"
            + "\\uA69B\\uA722-\\uA76F\\uA771-\\uA787\\uA78B-\\uA78E\\uAB70-\\uABBF\\uFB00-\\uFB06\\uFB13-\\uFB17\\uFF21-"
            + "\\uFF3A\\uFF41-\\uFF5A\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}"
            + "\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}";

    public static final String NEWLINE = "[\\r\\n]";
    public static final String LETTER_RUN = "\\s?[" + LETTERS + "]+";
    public static final String PUNCTUATION_RUN = "\\s?[!-/:-~\\uFF01-\\uFF0F\\uFF1A-\\uFF5E\\u2018-\\u201F\\u3000-\\u3002]+";
    public static final String TRAILING_SPACE = "\\s+$";
    public static final String CJK_RUN = "[\\u4E00-\\u9FA5\\u0800-\\u4E00\\uAC00-\\uD7FF]+";

    /** The whole pre-tokenizer, as data. */
    public static PreTokenizer preTokenizer() {
        return new Sequence(List.of(
                Split.regex(NEWLINE, SplitBehavior.Isolated, false),
                Split.regex(LETTER_RUN, SplitBehavior.Isolated, false),
                Split.regex(PUNCTUATION_RUN, SplitBehavior.Isolated, false),
                Split.regex(TRAILING_SPACE, SplitBehavior.Isolated, false),
                Split.regex(CJK_RUN, SplitBehavior.Isolated, false),
                new Digits(true),
                new ByteLevel(false, true, false)));
    }
}
