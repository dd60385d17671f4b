package org.sparkmoe.model.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
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

    @Test
    void saveThenLoadContinuesBitIdentically(@TempDir Path dir) throws Exception {
        int[] tokens = CorpusBytes.batch("en_python_docs.jsonl", 2, 17);
        try (TrainingEngine a = TrainingEngine.create(TINY, TRAIN, new CpuBackend(1), 4)) {
            a.step(tokens, 2, 17);
            a.step(tokens, 2, 17);
            Checkpoints.save(a, dir, Safetensors.Dtype.F32);
            try (TrainingEngine b = Checkpoints.load(dir, TRAIN, new CpuBackend(1))) {
                assertEquals(TINY, b.modelConfig());
                assertEquals(2, b.stepCount());
                for (int s = 0; s < 3; s++) {
                    StepMetrics ma = a.step(tokens, 2, 17);
                    StepMetrics mb = b.step(tokens, 2, 17);
                    assertEquals(ma.loss(), mb.loss());
                    assertEquals(ma.lr(), mb.lr());
                }
                float[] pa = new float[a.parameterCount()];
                float[] pb = new float[b.parameterCount()];
                a.readParameters(pa);
                b.readParameters(pb);
                assertArrayEquals(pa, pb);
            }
        }
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
    void bf16KeepsTheUpperHalfRoundedToNearest(@TempDir Path dir) throws Exception {
        try (TrainingEngine a = TrainingEngine.create(TINY, TRAIN, new CpuBackend(1), 4)) {
            Checkpoints.save(a, dir, Safetensors.Dtype.BF16);
            float[] original = new float[a.parameterCount()];
            a.readParameters(original);
            try (TrainingEngine b = Checkpoints.load(dir, TRAIN, new CpuBackend(1))) {
                float[] loaded = new float[b.parameterCount()];
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
