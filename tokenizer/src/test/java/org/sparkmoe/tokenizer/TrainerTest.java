package org.sparkmoe.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.testing.TrainedTokenizers;
import org.sparkmoe.tokenizer.train.BpeTrainer;
import org.sparkmoe.tokenizer.train.TrainerConfig;

class TrainerTest {

    @Test
    void learnsTheTextbookMergesInOrder() {
        // "low" x5, "lower" x2, "newest" x6, "widest" x3 (Sennrich et al.): the first merges are e+s (9), es+t (9),
        // then l+o (7), lo+w (7); ties broken by the smaller id pair.
        Map<String, Long> counts = Map.of("low", 5L, "lower", 2L, "newest", 6L, "widest", 3L);
        TrainerConfig config = new TrainerConfig(256 + 4, 1, List.of(), null, null, DeepSeekRules.preTokenizer());
        Tokenizer t = BpeTrainer.train(counts, config);
        assertEquals(List.of("es", "est", "lo", "low"), List.of(t.idToken(256), t.idToken(257), t.idToken(258),
                t.idToken(259)));
        assertArrayEquals(new int[] {259}, t.encode("low"));
        assertArrayEquals(new int[] {'n', 'e', 'w', 257}, t.encode("newest"));
    }

    @Test
    void identicalInputGivesByteIdenticalJsonWhateverTheMapOrder() {
        Map<String, Long> counts = TrainedTokenizers.count(TrainedTokenizers.sample(40)).counts();
        List<Map.Entry<String, Long>> entries = new ArrayList<>(counts.entrySet());
        Collections.shuffle(entries, new java.util.Random(7));
        Map<String, Long> shuffled = new LinkedHashMap<>();
        entries.forEach(e -> shuffled.put(e.getKey(), e.getValue()));
        TrainerConfig config = TrainerConfig.deepSeek(1500, 2);
        String first = BpeTrainer.train(counts, config).toJson();
        String second = BpeTrainer.train(shuffled, config).toJson();
        assertEquals(first, second);
        assertEquals(1500, Tokenizer.fromJson(first).vocabSize());
    }

    @Test
    void stopsAtMinimumFrequency() {
        Map<String, Long> counts = Map.of("abab", 3L, "xy", 1L);
        Tokenizer t = BpeTrainer.train(counts,
                new TrainerConfig(1000, 2, List.of(), null, null, DeepSeekRules.preTokenizer()));
        assertEquals(256 + 2, t.vocabSize(), "ab (6) and abab (3) are merged, x+y (1) is not");
        assertArrayEquals(new int[] {257}, t.encode("abab"));
    }

    @Test
    void vocabularySmallerThanBytesPlusSpecialsIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainerConfig.deepSeek(258, 2));
        assertTrue(e.getMessage().contains("at least 259"), e.getMessage());
    }

    @Test
    void specialTokensComeFirstAndWrapTexts() {
        Tokenizer t = TrainedTokenizers.small();
        assertEquals(0, t.tokenId(TrainerConfig.BOS).getAsInt());
        assertEquals(1, t.tokenId(TrainerConfig.EOS).getAsInt());
        assertEquals(2, t.tokenId(TrainerConfig.PAD).getAsInt());
        int[] ids = t.encode("hello", true);
        assertEquals(0, ids[0]);
        assertEquals(1, ids[ids.length - 1]);
        assertEquals("hello", t.decode(ids));
        assertEquals(4000, t.vocabSize());
    }
}
