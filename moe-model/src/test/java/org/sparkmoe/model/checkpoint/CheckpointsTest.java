package org.sparkmoe.model.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.train.EvalMetrics;
import org.sparkmoe.model.testing.CorpusBytes;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

class CheckpointsTest {

    static final ModelConfig TINY = TestConfigs.preset("tiny", "vocab_size=256");
    static final TrainConfig TRAIN = new TrainConfig(1e-3, LrScheduleKind.STEP_DECAY, 2, 10, 0.1, 0.9, 0.95, 1e-8,
            0.1, 1.0, 2);

    /** A shard size that splits tiny's weights (~0.45 MB in fp32) and its optimiser state into several shards. */
    static final long SMALL_SHARDS = 100_000;

    @Test
    void saveThenLoadContinuesBitIdentically(@TempDir Path dir) throws Exception {
        saveLoadAndContinue(dir, Checkpoints.DEFAULT_SHARD_BYTES);
        assertTrue(Files.exists(dir.resolve(Checkpoints.MODEL)), "a model under the shard size stays one file");
        assertTrue(Files.exists(dir.resolve(Checkpoints.OPTIMIZER)));
        assertTrue(!Files.exists(dir.resolve(Checkpoints.MODEL_INDEX)));
        var header = Safetensors.readHeader(dir.resolve(Checkpoints.MODEL));
        assertTrue(header.entries().containsKey("model.layers.1.mlp.experts.7.down_proj.weight"));
        assertTrue(header.entries().containsKey("model.layers.1.mlp.shared_experts.gate_proj.weight"));
        assertTrue(header.entries().containsKey("model.layers.1.mlp.gate.weight"));
        assertTrue(header.entries().containsKey("model.layers.0.mlp.up_proj.weight"));
        assertArrayEquals(new int[] {64, 32}, header.entries().get("model.layers.1.mlp.experts.7.down_proj.weight")
                .shape());
        var json = new ObjectMapper().readTree(dir.resolve(Checkpoints.CONFIG).toFile());
        assertEquals("deepseek", json.get("model_type").asText());
        assertEquals(8, json.get("n_routed_experts").asInt());
        assertEquals(2, json.get("num_experts_per_tok").asInt());
        assertEquals(32, json.get("moe_intermediate_size").asInt());
    }

    @Test
    void aModelForcedToSeveralShardsRoundTripsWithAHuggingFaceIndex(@TempDir Path dir) throws Exception {
        saveLoadAndContinue(dir, SMALL_SHARDS);
        assertTrue(!Files.exists(dir.resolve(Checkpoints.MODEL)), "sharded: no single model.safetensors");
        List<String> shards = shardFiles(dir, "model-");
        assertTrue(shards.size() >= 4, "tiny's weights in " + SMALL_SHARDS + "-byte shards: " + shards);
        assertEquals(String.format("model-00001-of-%05d.safetensors", shards.size()), shards.getFirst());
        assertTrue(shardFiles(dir, "optimizer-").size() > shards.size(), "m and v take twice the shards");
        var index = new ObjectMapper().readTree(dir.resolve(Checkpoints.MODEL_INDEX).toFile());
        long total = 0;
        for (String shard : shards) {
            Safetensors.Header h = Safetensors.readHeader(dir.resolve(shard));
            assertTrue(h.dataBytes() <= SMALL_SHARDS || h.entries().size() == 1, shard + " exceeds the shard size");
            for (String name : h.entries().keySet()) {
                assertEquals(shard, index.path("weight_map").path(name).asText(), name);
            }
            total += h.dataBytes();
        }
        assertEquals(total, index.path("metadata").path("total_size").asLong());
        assertEquals(4L * tinyParameters(), total);
        saveLoadAndContinue(dir, Checkpoints.DEFAULT_SHARD_BYTES);
        assertTrue(!Files.exists(dir.resolve(Checkpoints.MODEL_INDEX)), "one file again: the stale index is gone");
    }

    @Test
    void aMissingOrCorruptShardIsRefusedByName(@TempDir Path dir) throws Exception {
        try (TrainingEngine a = TrainingEngine.create(TINY, TRAIN, new CpuBackend(1), 4)) {
            Checkpoints.save(a, CheckpointFiles.local(dir), Safetensors.Dtype.F32, SMALL_SHARDS);
        }
        List<String> shards = shardFiles(dir, "model-");
        Path second = dir.resolve(shards.get(1));
        byte[] bytes = Files.readAllBytes(second);
        Files.write(second, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        var truncated = assertThrows(IOException.class, () -> Checkpoints.load(dir, TRAIN, new CpuBackend(1)));
        assertTrue(truncated.getMessage().contains(second + " is truncated"), truncated.getMessage());
        Files.write(second, new byte[] {1, 2, 3});
        var garbage = assertThrows(IOException.class, () -> Checkpoints.load(dir, TRAIN, new CpuBackend(1)));
        assertTrue(garbage.getMessage().contains(second.toString()), garbage.getMessage());
        Files.delete(second);
        var missing = assertThrows(IOException.class, () -> Checkpoints.load(dir, TRAIN, new CpuBackend(1)));
        assertTrue(missing.getMessage().contains("checkpoint shard " + second + " listed in "
                + dir.resolve(Checkpoints.MODEL_INDEX) + " is missing"), missing.getMessage());
    }

    /**
     * A checkpoint sharded as another tool would (bf16, three shards grouped by layer, an index with only a
     * weight_map and rotary buffers that are not parameters) loads into an inference engine and scores like the
     * training engine loaded from our own single file.
     */
    @Test
    void aForeignShardedCheckpointLoadsForInference(@TempDir Path ours, @TempDir Path foreign) throws Exception {
        int[] tokens = CorpusBytes.batch("en_python_docs.jsonl", 2, 17);
        try (TrainingEngine a = TrainingEngine.create(TINY, TRAIN, new CpuBackend(1), 4)) {
            Checkpoints.save(a, ours, Safetensors.Dtype.BF16);
            float[] params = new float[Math.toIntExact(a.parameterCount())];
            a.readParameters(params);
            List<List<Safetensors.Source>> groups = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
            for (ParameterSpec s : a.layout().specs()) {
                int group = s.name().startsWith("model.layers.0.") ? 1 : s.name().startsWith("model.layers.") ? 2 : 0;
                groups.get(group).add(new Safetensors.Source(s.name(), s.shape(), params, (int) s.offset()));
            }
            groups.get(1).add(new Safetensors.Source("model.layers.0.self_attn.rotary_emb.inv_freq", new int[] {4},
                    new float[4], 0));
            ObjectNode index = new ObjectMapper().createObjectNode();
            ObjectNode weightMap = index.putObject("weight_map");
            for (int g = 0; g < 3; g++) {
                String file = "pytorch-part" + g + ".safetensors";
                Safetensors.write(foreign.resolve(file), groups.get(g), Safetensors.Dtype.BF16, Map.of("format", "pt"));
                groups.get(g).forEach(src -> weightMap.put(src.name(), file));
            }
            new ObjectMapper().writeValue(foreign.resolve(Checkpoints.MODEL_INDEX).toFile(), index);
            Files.copy(ours.resolve(Checkpoints.CONFIG), foreign.resolve(Checkpoints.CONFIG));
        }
        EvalMetrics expected;
        try (TrainingEngine b = Checkpoints.load(ours, TRAIN, new CpuBackend(1))) {
            expected = b.evaluate(tokens, 2, 17);
        }
        try (TrainingEngine c = Checkpoints.loadForInference(foreign, TRAIN, new CpuBackend(1))) {
            assertTrue(!c.training() && c.gradientArena() == null && c.adamM() == null);
            EvalMetrics got = c.evaluate(tokens, 2, 17);
            assertEquals(expected.loss(), got.loss());
            assertArrayEquals(expected.sequenceLoss(), got.sequenceLoss());
        }
    }

    private static long tinyParameters() {
        return org.sparkmoe.model.decoder.ParameterLayout.of(TINY).totalElements();
    }

    private static List<String> shardFiles(Path dir, String prefix) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(prefix) && n.endsWith(".safetensors")).sorted().toList();
        }
    }

    /** Trains two steps, saves with the given shard size, loads, and checks three more steps are identical. */
    private static void saveLoadAndContinue(Path dir, long shardBytes) throws Exception {
        int[] tokens = CorpusBytes.batch("en_python_docs.jsonl", 2, 17);
        try (TrainingEngine a = TrainingEngine.create(TINY, TRAIN, new CpuBackend(1), 4)) {
            a.step(tokens, 2, 17);
            a.step(tokens, 2, 17);
            Checkpoints.save(a, CheckpointFiles.local(dir), Safetensors.Dtype.F32, shardBytes);
            try (TrainingEngine b = Checkpoints.load(dir, TRAIN, new CpuBackend(1))) {
                assertEquals(TINY, b.modelConfig());
                assertEquals(2, b.stepCount());
                for (int s = 0; s < 3; s++) {
                    StepMetrics ma = a.step(tokens, 2, 17);
                    StepMetrics mb = b.step(tokens, 2, 17);
                    assertEquals(ma.loss(), mb.loss());
                    assertEquals(ma.lr(), mb.lr());
                }
                float[] pa = new float[Math.toIntExact(a.parameterCount())];
                float[] pb = new float[Math.toIntExact(b.parameterCount())];
                a.readParameters(pa);
                b.readParameters(pb);
                assertArrayEquals(pa, pb);
            }
        }
    }

    /**
     * A training state kept outside any engine (flat vectors read by range, as the Spark barrier ranks hold it),
     * saved in shards with {@code saveModel} and {@code saveOptimizerState}: the files are the engine's own save's,
     * byte for byte; they load into an engine that continues as the original does; and they read back by range into
     * the same vectors.
     */
    @Test
    void aTrainingStateHeldAsFlatVectorsSavesAndReadsAsTheEnginesOwnCheckpoint(@TempDir Path engineDir,
                                                                              @TempDir Path vectorDir) throws Exception {
        int[] tokens = CorpusBytes.batch("en_python_docs.jsonl", 2, 17);
        try (TrainingEngine a = TrainingEngine.create(TINY, TRAIN, new CpuBackend(1), 4)) {
            a.step(tokens, 2, 17);
            a.step(tokens, 2, 17);
            int n = Math.toIntExact(a.parameterCount());
            float[] params = new float[n];
            float[] moments = new float[2 * n];
            a.readParameters(params);
            a.readOptimizerState(moments);
            Checkpoints.save(a, CheckpointFiles.local(engineDir), Safetensors.Dtype.F32, SMALL_SHARDS);
            CheckpointFiles files = CheckpointFiles.local(vectorDir);
            Checkpoints.saveModel(TINY, VectorRanges.of(params), files, Safetensors.Dtype.F32, SMALL_SHARDS);
            VectorRanges.Source state = VectorRanges.of(moments);
            Checkpoints.saveOptimizerState(TINY, state, state.from(n), a.stepCount(), files, SMALL_SHARDS);

            for (String file : shardFiles(engineDir, "model-")) {
                assertArrayEquals(Files.readAllBytes(engineDir.resolve(file)), Files.readAllBytes(vectorDir.resolve(file)),
                        file);
            }
            assertEquals(shardFiles(engineDir, "optimizer-").size(), shardFiles(vectorDir, "optimizer-").size());

            float[] paramsBack = new float[n];
            float[] momentsBack = new float[2 * n];
            Checkpoints.readModel(files, TINY, VectorRanges.into(paramsBack));
            VectorRanges.Sink back = VectorRanges.into(momentsBack);
            assertEquals(2, Checkpoints.readOptimizerState(files, TINY, back, back.from(n)));
            assertArrayEquals(params, paramsBack);
            assertArrayEquals(moments, momentsBack);

            try (TrainingEngine b = Checkpoints.load(vectorDir, TRAIN, new CpuBackend(1))) {
                assertEquals(2, b.stepCount());
                for (int s = 0; s < 2; s++) {
                    assertEquals(a.step(tokens, 2, 17).loss(), b.step(tokens, 2, 17).loss());
                }
            }
        }
    }

    @Test
    void bf16KeepsTheUpperHalfRoundedToNearest(@TempDir Path dir) throws Exception {
        try (TrainingEngine a = TrainingEngine.create(TINY, TRAIN, new CpuBackend(1), 4)) {
            Checkpoints.save(a, dir, Safetensors.Dtype.BF16);
            float[] original = new float[Math.toIntExact(a.parameterCount())];
            a.readParameters(original);
            try (TrainingEngine b = Checkpoints.load(dir, TRAIN, new CpuBackend(1))) {
                float[] loaded = new float[Math.toIntExact(b.parameterCount())];
                b.readParameters(loaded);
                for (int i = 0; i < loaded.length; i++) {
                    assertEquals(0, Float.floatToRawIntBits(loaded[i]) & 0xffff);
                    // Nearest: no other bf16 value is closer (neighbours differ by one unit of the upper half).
                    int bits = Float.floatToRawIntBits(loaded[i]);
                    float up = Float.intBitsToFloat(bits + 0x10000);
                    float down = Float.intBitsToFloat(bits - 0x10000);
                    double err = Math.abs(loaded[i] - original[i]);
                    assertTrue(err <= Math.abs(up - original[i]) && err <= Math.abs(down - original[i]),
                            "element " + i + ": " + original[i] + " -> " + loaded[i]);
                }
            }
        }
    }

    @Test
    void mismatchedShapesAndNamesAreRefusedNamingTheTensor(@TempDir Path dir) throws Exception {
        try (TrainingEngine a = TrainingEngine.create(TINY, TRAIN, new CpuBackend(1), 4)) {
            Checkpoints.save(a, dir, Safetensors.Dtype.F32);
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(dir.resolve(Checkpoints.CONFIG).toFile());
        config.put("intermediate_size", 96);
        json.writeValue(dir.resolve(Checkpoints.CONFIG).toFile(), config);
        var e = assertThrows(IllegalArgumentException.class, () -> Checkpoints.load(dir, TRAIN, new CpuBackend(1)));
        assertTrue(e.getMessage().contains("tensor model.layers.0.mlp.gate_proj.weight has shape [128, 64] but the"
                + " config needs [96, 64]"), e.getMessage());

        config.put("intermediate_size", 128);
        config.put("n_routed_experts", 9);
        json.writeValue(dir.resolve(Checkpoints.CONFIG).toFile(), config);
        var e2 = assertThrows(IllegalArgumentException.class, () -> Checkpoints.load(dir, TRAIN, new CpuBackend(1)));
        assertTrue(e2.getMessage().contains("tensor model.layers.1.mlp.gate.weight has shape [8, 64]"),
                e2.getMessage());

        config.put("n_routed_experts", 8);
        json.writeValue(dir.resolve(Checkpoints.CONFIG).toFile(), config);
        Path extra = dir.resolve(Checkpoints.MODEL);
        float[] one = {1f};
        Safetensors.write(extra, List.of(new Safetensors.Source("model.embed_tokens.weight", new int[] {1}, one, 0)),
                Safetensors.Dtype.F32, Map.of());
        var e3 = assertThrows(IllegalArgumentException.class, () -> Checkpoints.load(dir, TRAIN, new CpuBackend(1)));
        assertTrue(e3.getMessage().contains("model.embed_tokens.weight has shape [1]"), e3.getMessage());
        Files.writeString(extra, "not a safetensors file");
        assertThrows(java.io.IOException.class, () -> Checkpoints.load(dir, TRAIN, new CpuBackend(1)));
    }
}
