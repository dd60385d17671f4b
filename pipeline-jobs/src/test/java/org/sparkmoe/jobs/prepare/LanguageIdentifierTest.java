package org.sparkmoe.jobs.prepare;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.prepare.bench.LanguageIdAccuracy;
import org.sparkmoe.jobs.testing.SharedData;

/** Language identification on real corpus text: the labelled sets, and the hard cases (Traditional and
 * Simplified Chinese, Japanese kana, mixed documents). */
class LanguageIdentifierTest {

    private final LanguageIdentifier lid = LanguageIdAccuracy.defaultIdentifier();

    @Test
    void validationSetIsIdentified() throws Exception {
        LanguageIdAccuracy.Result r = LanguageIdAccuracy.validation(lid, SharedData.validationCorpus());
        assertTrue(r.accuracy() >= 0.97, () -> "validation accuracy " + r.accuracy() + ": " + r.errors());
    }

    @Test
    void handLabelledTrainSampleIsIdentified() throws Exception {
        LanguageIdAccuracy.Result r = LanguageIdAccuracy.trainSample(lid, SharedData.trainCorpus());
        assertTrue(r.accuracy() >= 0.9, () -> "train-sample accuracy " + r.accuracy() + ": " + r.errors());
    }

    @Test
    void traditionalAndSimplifiedChineseAreBothZh() {
        assertEquals("zh", lid.identify("薛記室收過莊見尋率題古意以贈，伊昔逢喪亂，曆數閏當餘。豺狼塞衢路，桑梓成丘墟。").lang());
        assertEquals("zh", lid.identify("返回多个区域中满足多个条件的区域中的单元格的最小值，它是一个单元格区域。").lang());
    }

    @Test
    void japaneseKanaIsOther() {
        assertEquals("other", lid.identify("これは日本語の文章です。漢字とひらがなとカタカナが混ざっています。").lang());
    }

    @Test
    void mixedDocumentGetsDominantLanguageAndMixedness() {
        String text = "关闭单独段落的项目符号与编号\n\n段落的项目符号与编号仅在 Writer、Impress 和 Draw 中支持。\n\n"
                + "For the current paragraph or selected paragraphs you can switch off the automatic numbering.";
        LanguageGuess g = lid.identify(text);
        assertTrue(g.mixedness() > 0.2 && g.mixedness() < 0.8, () -> "mixedness " + g);
        LanguageGuess pure = lid.identify("The quick brown fox jumps over the lazy dog, and then it runs away.");
        assertEquals("en", pure.lang());
        assertEquals(0.0, pure.mixedness(), 1e-9);
    }
}
