package org.sparkmoe.model.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.CheckpointFiles;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.ParameterLayout;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.moe.ExpertPlacement;
import org.sparkmoe.model.testing.CorpusBytes;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.testing.ThreadRanks;

/**
 * Whole-engine expert parallelism on the CPU backend, ranks as threads over the real TCP collective, on real corpus
 * text (bytes as ids): the expert-parallel step of D = 2 ranks, each on its own shard, equals the data-parallel step
 * of the same model (every rank holding every expert, gradients averaged), step after step; a checkpoint written by
 * the ranks is the whole model and loads back into them; the memory estimate is the rank's; misconfigured groups are
 * refused naming the settings.
 *
 * <p>Tolerance of the step comparison: losses and gradient norms to 1e-5 relative; parameters after three AdamW steps
 * to 1% of the learning rate (AdamW moves each element by about lr per step whatever its gradient's size, so an
 * element whose gradient is near Adam's eps turns fp32 rounding of the gradient — the two sum in different orders —
 * into a visible share of its update; measured 0.3%).
 */
class ExpertParallelTrainingTest {

    /** tiny over bytes, one dense layer then an MoE layer of 8 experts top-2, the device loss over 2 ranks. */
    static final ModelConfig CONFIG = TestConfigs.preset("tiny", "vocab_size=256", "init_std=0.05",
            "max_position_embeddings=32", "device_groups=2", "device_loss_alpha=0.05");
    static final TrainConfig TRAIN =
            new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, 2);
    static final int BATCH = 4;
    static final int SEQ = 33;
    static final int STEPS = 3;
    static final String[] SHARDS = {"en_gutenberg.jsonl", "en_wikitext.jsonl"};

    /** What a rank saw: its step metrics and its parameters by name. */
    record Run(List<StepMetrics> steps, Map<String, float[]> params) {
    }

    static Map<String, float[]> byName(TrainingEngine engine) {
        float[] flat = new float[Math.toIntExact(engine.parameterCount())];
        engine.readParameters(flat);
        Map<String, float[]> out = new LinkedHashMap<>();
        for (ParameterSpec s : engine.layout().specs()) {
            out.put(s.name(), Arrays.copyOfRange(flat, (int) s.offset(), (int) (s.offset() + s.size())));
        }
        return out;
    }

    @Test
    void theExpertParallelStepIsTheDataParallelStepOfTheSameModel() {
        int size = 2;
        List<Run> dataParallel = new ThreadRanks(size).run((rank, rendezvous) -> {
            int[] tokens = CorpusBytes.batch(SHARDS[rank], BATCH, SEQ);
            try (TrainingEngine engine = TrainingEngine.create(CONFIG, TRAIN, new CpuBackend(1), 7);
                 CpuBackend commBackend = new CpuBackend(1);
                 Collective collective = commBackend.joinCollective(rank, size, rendezvous)) {
                List<StepMetrics> steps = new ArrayList<>();
                for (int s = 0; s < STEPS; s++) {
                    steps.add(engine.step(tokens, BATCH, SEQ, collective::allReduceMean));
                }
                return new Run(steps, byName(engine));
            }
        });
        List<Run> expertParallel = new ThreadRanks(size).run((rank, rendezvous) -> {
            int[] tokens = CorpusBytes.batch(SHARDS[rank], BATCH, SEQ);
            CpuBackend backend = new CpuBackend(1);
            try (Collective collective = backend.joinCollective(rank, size, rendezvous);
                 TrainingEngine engine = TrainingEngine.create(CONFIG, TRAIN, backend, 7, collective)) {
                assertEquals(new ExpertPlacement(rank, size, 8), engine.expertPlacement());
                assertEquals(engine.memoryEstimate().tensorBytes(), backend.allocatedBytes(),
                        "the memory estimate counts the rank's own tensors");
                List<StepMetrics> steps = new ArrayList<>();
                for (int s = 0; s < STEPS; s++) {
                    steps.add(engine.step(tokens, BATCH, SEQ));
                }
                return new Run(steps, byName(engine));
            }
        });
        double worstParam = 0;
        for (int r = 0; r < size; r++) {
            for (int s = 0; s < STEPS; s++) {
                StepMetrics dp = dataParallel.get(r).steps().get(s);
                StepMetrics ep = expertParallel.get(r).steps().get(s);
                String at = "rank " + r + " step " + s;
                assertFalse(ep.skipped(), at);
                assertEquals(dp.loss(), ep.loss(), 1e-5 * dp.loss(), at + " loss");
                assertEquals(dp.expertBalanceLoss(), ep.expertBalanceLoss(), 1e-5 * dp.expertBalanceLoss(), at);
                assertEquals(dp.deviceBalanceLoss(), ep.deviceBalanceLoss(), 1e-5 * dp.deviceBalanceLoss(), at);
                assertTrue(dp.deviceBalanceLoss() > 0, at + ": the device loss is on");
                assertEquals(dp.gradNorm(), ep.gradNorm(), 1e-5 * dp.gradNorm(), at + " gradient norm");
                assertArrayEquals(dp.routing().getFirst().tokensPerExpert(),
                        ep.routing().getFirst().tokensPerExpert(), at + " tokens per expert");
            }
            Map<String, float[]> whole = dataParallel.get(r).params();
            for (var p : expertParallel.get(r).params().entrySet()) {
                float[] expected = whole.get(p.getKey());
                for (int i = 0; i < expected.length; i++) {
                    worstParam = Math.max(worstParam, Math.abs(expected[i] - p.getValue()[i]));
                }
            }
        }
        System.out.printf(Locale.ROOT, "expert-parallel vs data-parallel after %d steps: worst parameter difference"
                + " %.3e%n", STEPS, worstParam);
        assertTrue(worstParam <= 1e-2 * TRAIN.maxLr(), "worst parameter difference " + worstParam);
        assertEquals(new ArrayList<>(dataParallel.get(0).params().keySet()).stream().filter(n -> n.contains(".experts."))
                        .count(), expertParallel.stream().mapToLong(run -> run.params().keySet().stream()
                        .filter(n -> n.contains(".experts.")).count()).sum(),
                "the ranks hold every expert once between them");
    }

    @Test
    void theRanksCheckpointIsTheWholeModelAndLoadsBackIntoThem(@TempDir Path dir) throws Exception {
        int size = 2;
        Path ckpt = dir.resolve("ckpt");
        Path sharded = dir.resolve("sharded");
        List<float[][]> states = new ThreadRanks(size).run((rank, rendezvous) -> {
            int[] tokens = CorpusBytes.batch(SHARDS[rank], BATCH, SEQ);
            CpuBackend backend = new CpuBackend(1);
            try (Collective collective = backend.joinCollective(rank, size, rendezvous);
                 TrainingEngine engine = TrainingEngine.create(CONFIG, TRAIN, backend, 7, collective)) {
                engine.step(tokens, BATCH, SEQ);
                Checkpoints.save(engine, ckpt, Safetensors.Dtype.F32);
                // Shards of 256 KB: rank 0's writer crosses files while the other rank serves its blocks.
                Checkpoints.save(engine, CheckpointFiles.local(sharded), Safetensors.Dtype.F32, 256 << 10);
                float[] params = new float[Math.toIntExact(engine.parameterCount())];
                float[] state = new float[Math.toIntExact(engine.optimizerStateSize())];
                engine.readParameters(params);
                engine.readOptimizerState(state);
                StepMetrics next = engine.step(tokens, BATCH, SEQ);
                float[] after = new float[Math.toIntExact(engine.parameterCount())];
                engine.readParameters(after);
                // The ranks load the directory rank 0 wrote and continue exactly as the engines that wrote it.
                CpuBackend again = new CpuBackend(1);
                try (Collective collective2 = again.joinCollective(rank, size, rendezvous);
                     TrainingEngine loaded = Checkpoints.load(ckpt, TRAIN, again, collective2)) {
                    assertEquals(engine.layout().specs(), loaded.layout().specs());
                    float[] loadedParams = new float[Math.toIntExact(loaded.parameterCount())];
                    float[] loadedState = new float[Math.toIntExact(loaded.optimizerStateSize())];
                    loaded.readParameters(loadedParams);
                    loaded.readOptimizerState(loadedState);
                    assertArrayEquals(params, loadedParams, "rank " + rank + " parameters");
                    assertArrayEquals(state, loadedState, "rank " + rank + " optimiser state");
                    assertEquals(1, loaded.stepCount());
                    assertEquals(next.loss(), loaded.step(tokens, BATCH, SEQ).loss(), 0.0);
                    float[] loadedAfter = new float[Math.toIntExact(loaded.parameterCount())];
                    loaded.readParameters(loadedAfter);
                    assertArrayEquals(after, loadedAfter, "rank " + rank + " continues bit-identically");
                }
                return new float[][] {params, state};
            }
        });
        assertTrue(Files.exists(ckpt.resolve(Checkpoints.MODEL)));
        assertTrue(Files.exists(sharded.resolve(Checkpoints.MODEL_INDEX)), "the sharded save wrote an index");
        try (TrainingEngine one = Checkpoints.load(ckpt, TRAIN, new CpuBackend(1));
             TrainingEngine shards = Checkpoints.load(sharded, TRAIN, new CpuBackend(1))) {
            float[] a = new float[Math.toIntExact(one.optimizerStateSize())];
            float[] b = new float[Math.toIntExact(shards.optimizerStateSize())];
            one.readOptimizerState(a);
            shards.readOptimizerState(b);
            assertArrayEquals(a, b, "sharded and single-file checkpoints hold the same optimiser state");
            byName(one).forEach((name, values) -> assertArrayEquals(values, byName(shards).get(name), name));
        }
        try (TrainingEngine whole = Checkpoints.load(ckpt, TRAIN, new CpuBackend(1))) {
            Map<String, float[]> wholeParams = byName(whole);
            float[] wholeState = new float[Math.toIntExact(whole.optimizerStateSize())];
            whole.readOptimizerState(wholeState);
            ParameterLayout wholeLayout = whole.layout();
            int n = Math.toIntExact(whole.parameterCount());
            for (int r = 0; r < size; r++) {
                ParameterLayout mine = ParameterLayout.of(CONFIG, new ExpertPlacement(r, size, 8));
                int local = Math.toIntExact(mine.totalElements());
                for (ParameterSpec s : mine.specs()) {
                    int at = (int) s.offset();
                    int len = (int) s.size();
                    int wholeAt = (int) wholeLayout.get(s.name()).offset();
                    assertArrayEquals(Arrays.copyOfRange(states.get(r)[0], at, at + len), wholeParams.get(s.name()),
                            "rank " + r + " " + s.name());
                    assertArrayEquals(Arrays.copyOfRange(states.get(r)[1], at, at + len),
                            Arrays.copyOfRange(wholeState, wholeAt, wholeAt + len), "m of " + s.name());
                    assertArrayEquals(Arrays.copyOfRange(states.get(r)[1], local + at, local + at + len),
                            Arrays.copyOfRange(wholeState, n + wholeAt, n + wholeAt + len), "v of " + s.name());
                }
            }
        }
    }

    @Test
    void groupsThatCannotBePlacedAreRefusedNamingTheSettings() {
        var mismatch = assertThrows(IllegalArgumentException.class,
                () -> ExpertPlacement.of(TestConfigs.preset("tiny"), 0, 2));
        assertTrue(mismatch.getMessage().contains("device_groups=1") && mismatch.getMessage().contains("2 ranks")
                && mismatch.getMessage().contains("set device_groups=2"), mismatch.getMessage());
        var uneven = assertThrows(IllegalArgumentException.class, () -> new ExpertPlacement(0, 3, 8));
        assertTrue(uneven.getMessage().contains("n_routed_experts=8"), uneven.getMessage());
        var dense = assertThrows(IllegalArgumentException.class, () -> ExpertPlacement.of(TestConfigs.preset("tiny",
                "routing=dense", "n_routed_experts=0", "n_shared_experts=0"), 0, 1));
        assertTrue(dense.getMessage().contains("no MoE layers"), dense.getMessage());
    }

    @Test
    void ranksSteppingDifferentShapesOrWithAnOuterReductionAreRefused() {
        int size = 2;
        List<Object> outcomes = new ThreadRanks(size).outcomes((rank, rendezvous) -> {
            int batch = rank == 0 ? BATCH : 2;
            int[] tokens = CorpusBytes.batch(SHARDS[rank], batch, SEQ);
            CpuBackend backend = new CpuBackend(1);
            try (Collective collective = backend.joinCollective(rank, size, rendezvous);
                 TrainingEngine engine = TrainingEngine.create(CONFIG, TRAIN, backend, 7, collective)) {
                var outer = assertThrows(IllegalArgumentException.class,
                        () -> engine.step(tokens, batch, SEQ, collective::allReduceMean));
                assertTrue(outer.getMessage().contains("expert-parallel"), outer.getMessage());
                return engine.step(tokens, batch, SEQ);
            }
        });
        for (int r = 0; r < size; r++) {
            IllegalArgumentException e = assertInstanceOf(IllegalArgumentException.class, outcomes.get(r));
            assertTrue(e.getMessage().contains("4 x 33") && e.getMessage().contains("2 x 33"), e.getMessage());
        }
    }
}
