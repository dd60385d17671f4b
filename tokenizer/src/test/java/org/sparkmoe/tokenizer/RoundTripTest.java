package org.sparkmoe.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.tokenizer.testing.TestCorpus;
import org.sparkmoe.tokenizer.testing.TrainedTokenizers;

/**
 * decode(encode(x)) == x over random Unicode, for DeepSeek-V3's tokenizer and one trained here. Unpaired surrogates
 * are the documented exception: they encode as U+FFFD, so they decode as U+FFFD.
 */
class RoundTripTest {

    private static Tokenizer deepseek;
    private static Tokenizer trained;

    @BeforeAll
    static void load() {
        deepseek = Tokenizer.load(TestCorpus.deepseekV3());
        trained = TrainedTokenizers.small();
    }

    /** Code point pools that stress different rules: emoji, CJK, combining marks, controls, digits, scripts. */
    private static final int[][] POOLS = {
            {0x1F600, 0x1F64F}, {0x1F300, 0x1F5FF}, {0x4E00, 0x9FFF}, {0x3040, 0x30FF}, {0xAC00, 0xD7A3},
            {0x0300, 0x036F}, {0x0000, 0x001F}, {0x007F, 0x009F}, {0x0020, 0x007E}, {0x0030, 0x0039},
            {0x0660, 0x0669}, {0x0590, 0x06FF}, {0x0900, 0x097F}, {0x1F00, 0x1FFF}, {0x2100, 0x214F},
            {0x2000, 0x206F}, {0x3000, 0x303F}, {0xFF00, 0xFFEF}, {0x10400, 0x1044F}, {0xE000, 0xF8FF},
            {0x20000, 0x2A6DF}, {0x0080, 0x07FF}, {0xFE00, 0xFE0F}, {0x200B, 0x200F}};

    static String randomText(Random r, int length, boolean withLoneSurrogates) {
        StringBuilder sb = new StringBuilder(length * 2);
        while (sb.length() < length) {
            int roll = r.nextInt(20);
            if (withLoneSurrogates && roll == 0) {
                sb.append((char) (0xD800 + r.nextInt(0x800)));
            } else if (roll < 4) {
                sb.append(r.nextBoolean() ? ' ' : "\n\r\t ".charAt(r.nextInt(4)));
            } else {
                int[] pool = POOLS[r.nextInt(POOLS.length)];
                int cp = pool[0] + r.nextInt(pool[1] - pool[0] + 1);
                if (cp < 0xD800 || cp > 0xDFFF) {
                    sb.appendCodePoint(cp);
                }
            }
        }
        return sb.toString();
    }

    /** What a string becomes when each unpaired surrogate is replaced by U+FFFD. */
    static String wellFormed(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                sb.append(c).append(s.charAt(++i));
            } else if (Character.isSurrogate(c)) {
                sb.append('\uFFFD');
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    @Test
    void randomUnicodeRoundTrips() {
        Random r = new Random(20261128);
        for (int i = 0; i < 3000; i++) {
            String text = randomText(r, 1 + r.nextInt(200), false);
            assertEquals(text, deepseek.decode(deepseek.encode(text)), "deepseek-v3 on case " + i);
            assertEquals(text, trained.decode(trained.encode(text)), "trained on case " + i);
            assertEquals(text, trained.decode(trained.encode(text, true)), "with BOS/EOS, case " + i);
        }
    }

    @Test
    void loneSurrogatesBecomeReplacementCharacters() {
        Random r = new Random(5);
        for (int i = 0; i < 1000; i++) {
            String text = randomText(r, 1 + r.nextInt(100), true);
            assertEquals(wellFormed(text), deepseek.decode(deepseek.encode(text)), "case " + i);
            assertEquals(wellFormed(text), trained.decode(trained.encode(text)), "case " + i);
        }
        assertArrayEquals(trained.encode("a\uFFFDb"), trained.encode("a\uD800b"));
        assertArrayEquals(trained.encode("\uFFFD"), trained.encode("\uDC00"));
    }

    @Test
    void byteCountIsTheTextsUtf8LengthAndCountsCutCharactersByTheirRealBytes() {
        Random r = new Random(17);
        int cutInsideACharacter = 0;
        for (int i = 0; i < 300; i++) {
            String text = randomText(r, 1 + r.nextInt(100), false);
            int[] ids = trained.encode(text, true);
            assertEquals(text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, trained.byteCount(ids),
                    "case " + i);
            // Any two slices add up to the whole, even where decoding a slice alone gives U+FFFD.
            int cut = r.nextInt(ids.length + 1);
            int[] head = java.util.Arrays.copyOfRange(ids, 0, cut);
            int[] tail = java.util.Arrays.copyOfRange(ids, cut, ids.length);
            assertEquals(trained.byteCount(ids), trained.byteCount(head) + trained.byteCount(tail), "case " + i);
            if (trained.decode(head).indexOf('\uFFFD') >= 0) {
                cutInsideACharacter++;
            }
        }
        assertTrue(cutInsideACharacter > 0, "some cut must fall inside a multi-byte character");
    }

    @Test
    void veryLongInputsRoundTrip() {
        Random r = new Random(11);
        String mixed = randomText(r, 200_000, false);
        assertEquals(mixed, trained.decode(trained.encode(mixed)));
        // One piece of 100,000 identical CJK characters: the worst case for the merge loop.
        String run = "的".repeat(100_000);
        assertEquals(run, deepseek.decode(deepseek.encode(run)));
        assertEquals(run, trained.decode(trained.encode(run)));
        String spaces = " ".repeat(50_000) + "x";
        assertEquals(spaces, deepseek.decode(deepseek.encode(spaces)));
    }

    @Test
    void emptyTextGivesOnlySpecialTokens() {
        assertEquals(0, trained.encode("").length);
        assertArrayEquals(new int[] {0, 1}, trained.encode("", true));
        assertEquals("", trained.decode(new int[0]));
    }

    @Test
    void concurrentEncodingGivesTheSameIds() throws Exception {
        java.util.List<String> texts = new java.util.ArrayList<>();
        Random r = new Random(3);
        for (int i = 0; i < 400; i++) {
            texts.add(randomText(r, 50 + r.nextInt(500), false));
        }
        Tokenizer fresh = Tokenizer.fromJson(trained.toJson());
        java.util.List<int[]> expected = texts.stream().map(trained::encode).toList();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            var futures = new java.util.ArrayList<java.util.concurrent.Future<Boolean>>();
            for (int t = 0; t < 4; t++) {
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < texts.size(); i++) {
                        if (!java.util.Arrays.equals(expected.get(i), fresh.encode(texts.get(i)))) {
                            return false;
                        }
                    }
                    return true;
                }));
            }
            for (var f : futures) {
                assertEquals(true, f.get());
            }
        }
    }
}
