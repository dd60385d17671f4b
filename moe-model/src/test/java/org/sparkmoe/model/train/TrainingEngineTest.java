package org.sparkmoe.model.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.DecayRanges;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.testing.CorpusBytes;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.testing.ThreadRanks;

class TrainingEngineTest {

    /** Real text as bytes (vocabulary 256) until moe-model tests can read token shards. */
    static final ModelConfig TINY_BYTES = TestConfigs.preset("tiny", "vocab_size=256");

    static TrainConfig train(double lr, int microBatch) {
        return new TrainConfig(lr, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, microBatch);
    }

    @Test
    void tinyModelOverfitsAFewBatchesOfRealText() {
        int batch = 4;
        int seq = 33;
        int[] tokens = CorpusBytes.batch("en_gutenberg.jsonl", batch, seq);
        try (TrainingEngine engine = TrainingEngine.create(TINY_BYTES, train(1e-2, 2), new CpuBackend(2), 1)) {
            StepMetrics first = engine.step(tokens, batch, seq);
            StepMetrics last = first;
            for (int i = 0; i < 300 && last.loss() > 0.05; i++) {
                last = engine.step(tokens, batch, seq);
            }
            System.out.println("overfit: loss " + first.loss() + " -> " + last.loss() + " after " + last.step()
                    + " steps; routing " + last.routing().get(0).coefficientOfVariation());
            assertEquals(Math.log(256), first.loss(), 0.1, "initial loss of a near-uniform model");
            assertTrue(last.loss() < 0.05, "loss after " + last.step() + " steps: " + last.loss());
            assertEquals(batch * (seq - 1), last.tokens());
            RoutingStats stats = last.routing().get(0);
            long assignments = 0;
            for (long c : stats.tokensPerExpert()) {
                assignments += c;
            }
            assertEquals((long) batch * (seq - 1) * TINY_BYTES.numExpertsPerTok(), assignments);
            assertTrue(stats.routerEntropy() > 0 && stats.routerEntropy() <= Math.log(8) + 1e-6);
            assertTrue(stats.expertBalanceLoss() > 0);
        }
    }

    @Test
    void sameSeedGivesBitIdenticalTrainingAndMicroBatchingMatchesTheWholeBatch() {
        int batch = 4;
        int seq = 17;
        int[] tokens = CorpusBytes.batch("en_wikitext.jsonl", batch, seq);
        float[][] params = new float[4][];
        int[] micro = {4, 4, 1, 4};
        int[] threads = {2, 2, 2, 1};
        for (int run = 0; run < 4; run++) {
            try (TrainingEngine engine = TrainingEngine.create(TINY_BYTES, train(1e-3, micro[run]),
                    new CpuBackend(threads[run]), 5)) {
                for (int s = 0; s < 3; s++) {
                    engine.step(tokens, batch, seq);
                }
                params[run] = new float[Math.toIntExact(engine.parameterCount())];
                engine.readParameters(params[run]);
            }
        }
        assertArrayEquals(params[0], params[1]);
        assertArrayEquals(params[0], params[3], "1 vs 2 op threads: every op writes disjoint outputs");
        double maxDiff = 0;
        for (int i = 0; i < params[0].length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(params[0][i] - params[2][i]));
        }
        // Adam's first steps move every weight by ~lr; accumulation order only changes rounding.
        assertTrue(maxDiff < 1e-5, "micro-batch 1 vs 4 differ by " + maxDiff);
    }

    @Test
    void dataParallelStepsOnTwoWorkersEqualOneEngineOnBothBatches() {
        int seq = 17;
        int[] both = CorpusBytes.batch("en_wikitext.jsonl", 4, seq);
        int[][] halves = {Arrays.copyOfRange(both, 0, 2 * seq), Arrays.copyOfRange(both, 2 * seq, 4 * seq)};
        float[] whole;
        try (TrainingEngine engine = TrainingEngine.create(TINY_BYTES, train(1e-3, 2), new CpuBackend(1), 5)) {
            for (int s = 0; s < 3; s++) {
                engine.step(both, 4, seq);
            }
            whole = new float[Math.toIntExact(engine.parameterCount())];
            engine.readParameters(whole);
        }
        // Two workers, each with half of the batch; the hook averages their gradients over TCP before AdamW.
        List<float[]> workers = new ThreadRanks(2).run((rank, rendezvous) -> {
            CpuBackend backend = new CpuBackend(1);
            try (TrainingEngine engine = TrainingEngine.create(TINY_BYTES, train(1e-3, 2), backend, 5);
                 Collective collective = backend.joinCollective(rank, 2, rendezvous)) {
                for (int s = 0; s < 3; s++) {
                    engine.step(halves[rank], 2, seq, collective::allReduceMean);
                }
                assertEquals(3, engine.stepCount());
                float[] params = new float[Math.toIntExact(engine.parameterCount())];
                engine.readParameters(params);
                return params;
            }
        });
        assertArrayEquals(workers.get(0), workers.get(1), "both workers apply the same averaged gradient");
        double maxDiff = 0;
        for (int i = 0; i < whole.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(whole[i] - workers.get(0)[i]));
        }
        // The mean of the two halves' mean gradients is the whole batch's (same target count per half); only the
        // accumulation order differs, as between micro-batch sizes above.
        assertTrue(maxDiff < 1e-5, "data parallel vs one engine differ by " + maxDiff);
    }

    @Test
    void parametersAndOptimizerStateRoundTripForIdenticalContinuation() {
        int batch = 2;
        int seq = 17;
        int[] tokens = CorpusBytes.batch("code.jsonl", batch, seq);
        try (TrainingEngine a = TrainingEngine.create(TINY_BYTES, train(1e-3, 2), new CpuBackend(1), 3);
             TrainingEngine b = TrainingEngine.create(TINY_BYTES, train(1e-3, 2), new CpuBackend(1), 99)) {
            a.step(tokens, batch, seq);
            a.step(tokens, batch, seq);
            float[] p = new float[Math.toIntExact(a.parameterCount())];
            float[] o = new float[Math.toIntExact(a.optimizerStateSize())];
            a.readParameters(p);
            a.readOptimizerState(o);
            b.writeParameters(p);
            b.writeOptimizerState(o);
            b.setStepCount(a.stepCount());
            StepMetrics ma = a.step(tokens, batch, seq);
            StepMetrics mb = b.step(tokens, batch, seq);
            assertEquals(ma.loss(), mb.loss());
            float[] pa = new float[Math.toIntExact(a.parameterCount())];
            float[] pb = new float[Math.toIntExact(b.parameterCount())];
            a.readParameters(pa);
            b.readParameters(pb);
            assertArrayEquals(pa, pb);
        }
    }

    /**
     * What a Spark barrier rank does to the state it keeps in its engine between rounds: back to the seed's start,
     * a scaled mean in place, a finite check without copying the parameters out.
     */
    @Test
    void resetScaleAndFiniteCheckWorkInPlace() {
        int batch = 2;
        int seq = 17;
        int[] tokens = CorpusBytes.batch("code.jsonl", batch, seq);
        try (TrainingEngine fresh = TrainingEngine.create(TINY_BYTES, train(1e-3, 2), new CpuBackend(1), 5);
             TrainingEngine used = TrainingEngine.create(TINY_BYTES, train(1e-3, 2), new CpuBackend(1), 5)) {
            used.step(tokens, batch, seq);
            used.reset(5);
            assertEquals(0, used.stepCount());
            float[] moments = new float[Math.toIntExact(used.optimizerStateSize())];
            used.readOptimizerState(moments);
            assertTrue(Arrays.stream(toDoubles(moments)).allMatch(x -> x == 0), "moments zero after reset");
            assertEquals(fresh.step(tokens, batch, seq).loss(), used.step(tokens, batch, seq).loss(),
                    "a reset engine continues as a fresh one");

            float[] before = new float[Math.toIntExact(used.parameterCount())];
            used.readParameters(before);
            used.scaleParameters(0.25f);
            float[] after = new float[before.length];
            used.readParameters(after);
            for (int i = 0; i < before.length; i++) {
                assertEquals(before[i] * 0.25f, after[i], "parameter " + i);
            }
            assertTrue(used.parametersFinite());
            after[after.length - 1] = Float.POSITIVE_INFINITY;
            used.writeParameters(after);
            assertFalse(used.parametersFinite());
        }
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    @Test
    void nonFiniteStepIsSkippedCountedAndNotApplied() {
        int batch = 2;
        int seq = 9;
        int[] tokens = CorpusBytes.batch("en_fortunes.jsonl", batch, seq);
        try (TrainingEngine engine = TrainingEngine.create(TINY_BYTES, train(1e-3, 2), new CpuBackend(1), 3)) {
            float[] p = new float[Math.toIntExact(engine.parameterCount())];
            engine.readParameters(p);
            p[(int) engine.layout().get("lm_head.weight").offset()] = Float.NaN;
            engine.writeParameters(p);
            StepMetrics m = engine.step(tokens, batch, seq);
            assertTrue(m.skipped());
            assertEquals(1, m.skippedTotal());
            assertEquals(0, engine.stepCount());
            float[] after = new float[Math.toIntExact(engine.parameterCount())];
            engine.readParameters(after);
            assertArrayEquals(p, after);
        }
    }

    @Test
    void badBatchesAndConfigsAreRefusedWithClearMessages() {
        try (TrainingEngine engine = TrainingEngine.create(TINY_BYTES, train(1e-3, 1), new CpuBackend(1), 3)) {
            var tooLong = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> engine.step(new int[66], 1, 66));
            assertTrue(tooLong.getMessage().contains("max_position_embeddings+1 = 65"), tooLong.getMessage());
            var tooFew = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> engine.step(new int[10], 2, 9));
            assertTrue(tooFew.getMessage().contains("needs 18"), tooFew.getMessage());
            int[] outOfVocab = new int[9];
            outOfVocab[3] = 256;
            var vocab = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> engine.step(outOfVocab, 1, 9));
            assertTrue(vocab.getMessage().contains("token id 256"), vocab.getMessage());
            var shortArray = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> engine.writeParameters(new float[3]));
            assertTrue(shortArray.getMessage().contains("parameters array has 3 elements"), shortArray.getMessage());
        }
        var badTrain = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new TrainConfig(-1, LrScheduleKind.COSINE, 0, 10, 0.1, 0.9, 1.5, 1e-8, 0.1, 1, 0));
        assertTrue(badTrain.getMessage().contains("lr=-1.0") && badTrain.getMessage().contains("adam-beta2=1.5")
                && badTrain.getMessage().contains("micro-batch=0"), badTrain.getMessage());
    }

    @Test
    void onlyMatricesAreDecayedInOneAdamWCallOverRangesCoveringTheLayout() {
        try (TrainingEngine engine = TrainingEngine.create(TINY_BYTES, train(1e-3, 1), new CpuBackend(1), 3)) {
            for (ParameterSpec s : engine.layout().specs()) {
                assertEquals(s.shape().length > 1, s.decay(), s.name());
            }
            assertFalse(engine.layout().get("model.norm.weight").decay());
            DecayRanges ranges = engine.layout().decayRanges();
            assertEquals(engine.parameterCount(), ranges.elements());
            // embedding; per layer norm, attention, norm, MLP; final norm; head
            assertEquals(2 + 4 * TINY_BYTES.numLayers() + 1, ranges.count(), ranges.toString());
            int range = 0;
            for (ParameterSpec s : engine.layout().specs()) {
                while (s.offset() >= ranges.end(range)) {
                    range++;
                }
                assertTrue(s.offset() >= ranges.start(range) && s.offset() + s.size() <= ranges.end(range), s.name());
                assertEquals(s.decay(), ranges.decayed(range), s.name());
            }
            for (int i = 1; i < ranges.count(); i++) {
                assertTrue(ranges.decayed(i) != ranges.decayed(i - 1), "neighbouring ranges merge: " + ranges);
            }
        }
    }

    @Test
    void decayRangesRefuseGapsOverlapsAndMissingFlags() {
        assertEquals(50, new DecayRanges(new long[] {20, 35, 50}, new boolean[] {true, false, true}).elements());
        assertThrows(IllegalArgumentException.class, () -> new DecayRanges(new long[] {}, new boolean[] {}));
        assertThrows(IllegalArgumentException.class, () -> new DecayRanges(new long[] {0, 5}, new boolean[2]));
        assertThrows(IllegalArgumentException.class, () -> new DecayRanges(new long[] {5, 5}, new boolean[2]));
        assertThrows(IllegalArgumentException.class, () -> new DecayRanges(new long[] {5, 9}, new boolean[1]));
        try (CpuBackend backend = new CpuBackend(1)) {
            Tensor t = backend.allocate("p", DType.F32, 10);
            IllegalArgumentException short_ = assertThrows(IllegalArgumentException.class,
                    () -> backend.adamw(t, t, t, t, DecayRanges.whole(9, true), 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1f, 1));
            assertTrue(short_.getMessage().contains("cover 9 elements but tensor p has 10"), short_.getMessage());
        }
    }

    @Test
    void learningRateSchedules() {
        TrainConfig step = new TrainConfig(1.0, LrScheduleKind.STEP_DECAY, 10, 100, 0.1, 0.9, 0.95, 1e-8, 0.1, 1, 1);
        assertEquals(0.1, LrSchedule.at(step, 0), 1e-12);
        assertEquals(1.0, LrSchedule.at(step, 9), 1e-12);
        assertEquals(1.0, LrSchedule.at(step, 79), 1e-12);
        assertEquals(0.316, LrSchedule.at(step, 80), 1e-12);
        assertEquals(0.316 * 0.316, LrSchedule.at(step, 90), 1e-12);
        TrainConfig cos = new TrainConfig(1.0, LrScheduleKind.COSINE, 10, 110, 0.1, 0.9, 0.95, 1e-8, 0.1, 1, 1);
        assertEquals(1.0, LrSchedule.at(cos, 10), 1e-12);
        assertEquals(0.55, LrSchedule.at(cos, 60), 1e-12);
        assertEquals(0.1, LrSchedule.at(cos, 110), 1e-12);
    }
}
