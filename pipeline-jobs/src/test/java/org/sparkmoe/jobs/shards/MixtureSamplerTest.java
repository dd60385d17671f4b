package org.sparkmoe.jobs.shards;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.UsageException;

/** Mixture planning and per-document sampling, against numbers worked out by hand. */
class MixtureSamplerTest {

    @Test
    void withoutATotalTheScarcestLanguageIsUsedOnceAndTheOthersDownSampled() {
        MixturePlan plan = MixtureSampler.plan(Map.of("en", 1000L, "zh", 4000L, "code", 500L),
                MixtureSampler.parseShares("en:0.5,zh:0.5,code:0"), 4, 0);
        // T = min(1000 / 0.5, 4000 / 0.5) = 2000: en rate 1000/1000, zh 1000/4000.
        assertEquals(1.0, plan.rate("en"), 1e-12);
        assertEquals(0.25, plan.rate("zh"), 1e-12);
        assertEquals(0.0, plan.rate("code"));
        assertEquals(0.0, plan.rate("other"), "an unlisted language is dropped");
    }

    @Test
    void aLargerTotalRepeatsUpToTheEpochCap() {
        MixturePlan plan = MixtureSampler.plan(Map.of("en", 1000L, "zh", 4000L),
                MixtureSampler.parseShares("en:1,zh:3"), 2.5, 12_000);
        // en wants 12000 * 0.25 = 3000 = 3 epochs, capped at 2.5; zh wants 9000 / 4000 = 2.25.
        assertEquals(2.5, plan.rate("en"), 1e-12);
        assertEquals(3, plan.languages().get("en").maxCopies());
        assertEquals(2.25, plan.rate("zh"), 1e-12);
    }

    @Test
    void histogramThresholdHitsTheFractionWithinOneDocument() {
        Random random = new Random(5);
        int docs = 400;
        long[] lengths = new long[docs];
        long[] bins = new long[MixtureSampler.BINS];
        long total = 0;
        long longest = 0;
        for (int d = 0; d < docs; d++) {
            lengths[d] = 1 + (long) Math.abs(random.nextGaussian() * 2000);
            bins[MixtureSampler.bin(9, "doc-" + d)] += lengths[d];
            total += lengths[d];
            longest = Math.max(longest, lengths[d]);
        }
        Map<String, MixturePlan.Language> languages = Map.of("zh",
                new MixturePlan.Language(total, 1, 1.3, 2, -1, -1));
        MixturePlan plan = new MixturePlan(languages, Map.of("zh", MixtureSampler.threshold(bins, 0.3)));
        long written = 0;
        for (int d = 0; d < docs; d++) {
            int copies = plan.copies(9, "doc-" + d, "zh");
            assertTrue(copies == 1 || copies == 2);
            written += copies * lengths[d];
        }
        assertEquals(1.3 * total, written, longest, "1.3 epochs of the tokens, to within one document");
    }

    @Test
    void badSharesAreRefusedWithTheEntry() {
        UsageException e = assertThrows(UsageException.class, () -> MixtureSampler.parseShares("en=0.5"));
        assertTrue(e.getMessage().contains("en=0.5"));
        assertThrows(UsageException.class, () -> MixtureSampler.parseShares("en:-1"));
        assertThrows(UsageException.class, () -> MixtureSampler.plan(Map.of("en", 5L),
                MixtureSampler.parseShares("zh:1"), 4, 0));
    }
}
