package org.sparkmoe.jobs.prepare;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Each cleaning rule on the kind of input the corpus really has (SOURCES.md, "Odd characters"). */
class TextCleanerTest {

    private final TextCleaner cleaner = new TextCleaner(true);

    @Test
    void removesBomAndNormalisesLineEndings() {
        assertEquals(" = Robert Boulter =\nline two\nline three", cleaner.clean("\uFEFF = Robert Boulter = \r\nline two\rline three\r\n"));
    }

    @Test
    void removesAnsiColourEscapes() {
        // From fortunes-zh: colour codes around the title and the author.
        assertEquals("《詩經‧ 國風‧ 衞‧ 木瓜》\n\n    投我以木瓜\n -- 欧阳修《采桑子》",
                cleaner.clean("\u001b[32m《詩經‧ 國風‧ 衞‧ 木瓜》\u001b[m\n\n    投我以木瓜\n\u001b[33m -- 欧阳修\u001b[32m《采桑子》\u001b[m\u001b[m\n"));
    }

    @Test
    void resolvesBackspaceOverstrikes() {
        assertEquals("BOLD and under", cleaner.clean("B\bBO\bOL\bLD\bD and _\bu_\bn_\bd_\be_\br"));
    }

    @Test
    void appliesNfkcAndCollapsesInnerSpaceButKeepsIndentation() {
        assertEquals("ABC123,!() x\n    def f():\n        return 1",
                cleaner.clean("ＡＢＣ１２３，！（）\u3000\u00A0x  \n    def f():\n        return   1\n"));
    }

    @Test
    void collapsesBlankLinesAndRemovesControlAndZeroWidthCharacters() {
        assertEquals("a\u200Db\n\nc\nd", cleaner.clean("a\u200D\u200Bb\u0007\n\t\t\n \n\n\nc\u0000\nd\n\n"));
    }

    @Test
    void dropsUnpairedSurrogatesButKeepsPairs() {
        assertEquals("x𡷸y", cleaner.clean("x\uD800𡷸\uDC00y"));
    }

    @Test
    void whitespaceOnlyBecomesEmpty() {
        assertEquals("", cleaner.clean(" \t\r\n\u3000\n"));
    }
}
