package org.sparkmoe.jobs.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.train.BpeTrainer;
import org.sparkmoe.tokenizer.train.PreTokenCounter;
import org.sparkmoe.tokenizer.train.TrainerConfig;

class ModelJobsTest {

    static String captureStdout(Runnable body) {
        PrintStream original = System.out;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buffer, true, StandardCharsets.UTF_8));
        try {
            body.run();
        } finally {
            System.setOut(original);
        }
        return buffer.toString(StandardCharsets.UTF_8);
    }

    @Test
    void modelInfoPrintsThePapersCounts() throws Exception {
        int[] status = new int[1];
        String text = captureStdout(() -> status[0] = SparkMoeMain.run("model-info", "--model", "16b"));
        assertEquals(0, status[0]);
        assertTrue(text.contains("(16.4B)") && text.contains("(2.8B)"), text);
        assertTrue(text.contains("(16 bytes/parameter") && text.contains("inference  ")
                && text.contains("(parameters 61.00 GiB,"), text);
        String json = captureStdout(() -> status[0] = SparkMoeMain.run("model-info", "--model", "145b", "--json",
                "true"));
        JsonNode o = new ObjectMapper().readTree(json);
        assertEquals(144.6, Math.round(o.get("total_params").asLong() / 1e8) / 10.0);
        assertEquals(22.2, Math.round(o.get("activated_params").asLong() / 1e8) / 10.0);
        assertTrue(o.get("flops_per_token").asDouble() > 0);
        long parameters = o.get("total_params").asLong();
        assertTrue(o.get("training_tensor_bytes").asLong() > 16 * parameters, json);
        assertTrue(o.get("inference_tensor_bytes").asLong() < 5 * parameters, json);
        assertEquals(2, SparkMoeMain.run("model-info", "--model", "no-such-model"));
    }

    @Test
    void modelInfoTakesModelConfigKeysAsOverridesOfThePresetValidatedByModelConfig() throws Exception {
        ObjectMapper json = new ObjectMapper();
        int[] status = new int[1];
        JsonNode full = json.readTree(captureStdout(() -> status[0] = SparkMoeMain.run("model-info", "--model", "16b",
                "--json")));
        JsonNode four = json.readTree(captureStdout(() -> status[0] = SparkMoeMain.run("model-info", "--model", "16b",
                "--json", "--num_hidden_layers", "4")));
        assertEquals(0, status[0]);
        assertEquals(28, full.get("layers").asInt());
        assertEquals(4, four.get("layers").asInt());
        assertEquals(3, four.get("moe_layers").asInt(), "layer 0 stays dense (first_k_dense_replace=1)");
        assertEquals("16b with num_hidden_layers=4", four.get("model").asText());
        assertTrue(four.get("total_params").asLong() < full.get("total_params").asLong() / 5);
        JsonNode viaSet = json.readTree(captureStdout(() -> SparkMoeMain.run("model-info", "--model", "16b", "--json",
                "--set", "num_hidden_layers=4")));
        assertEquals(four, viaSet);

        String err = captureStderr(() -> status[0] = SparkMoeMain.run("model-info", "--model", "16b",
                "--num_attention_heads", "7"));
        assertEquals(2, status[0]);
        assertTrue(err.contains("16b with num_attention_heads=7 is invalid") && err.contains("num_attention_heads=7"),
                err);
        assertEquals(2, SparkMoeMain.run("model-info", "--model", "16b", "--num_hidden_layer", "4"),
                "a misspelt model key is an unknown option");
    }

    static String captureStderr(Runnable body) {
        PrintStream original = System.err;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
        try {
            body.run();
        } finally {
            System.setErr(original);
        }
        return buffer.toString(StandardCharsets.UTF_8);
    }

    @Test
    void scoreWritesLossesMatchingItsLogitsAndReportsBadLines(@TempDir Path dir) throws Exception {
        Properties props = new Properties();
        try (var in = ModelJobsTest.class.getClassLoader()
                .getResourceAsStream("sparkmoe-conf/models/tiny.properties")) {
            props.load(in);
        }
        props.setProperty("vocab_size", "256");
        ModelConfig tiny = ModelPresets.fromProperties("tiny", props);
        Path checkpoint = dir.resolve("ckpt");
        try (TrainingEngine engine = TrainingEngine.create(tiny, TrainConfig.forInference(1), new CpuBackend(1), 3)) {
            Checkpoints.save(engine, checkpoint, Safetensors.Dtype.F32);
        }
        String text = new ObjectMapper().readTree(Files.readAllLines(SharedData.trainCorpus()
                .resolve("en_fortunes.jsonl")).get(0)).get("text").asText();
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        StringBuilder ids = new StringBuilder("[");
        for (int i = 0; i < 20; i++) {
            ids.append(i == 0 ? "" : ",").append(bytes[i] & 0xff);
        }
        ids.append("]");
        String longer = ids.substring(0, ids.length() - 1) + "," + (bytes[20] & 0xff) + "]";
        Path input = dir.resolve("in.jsonl");
        Files.write(input, List.of(ids.toString(), "{\"tokens\": " + ids + "}", "not json", "[1, 999]", "[5]",
                longer));
        Path output = dir.resolve("out.jsonl");
        Path logits = dir.resolve("logits.safetensors");
        assertEquals(0, SparkMoeMain.run("score", "--checkpoint", checkpoint.toString(), "--input", input.toString(),
                "--output", output.toString(), "--logits", logits.toString(), "--threads", "1"));
        List<String> lines = Files.readAllLines(output);
        assertEquals(6, lines.size());
        ObjectMapper json = new ObjectMapper();
        JsonNode first = json.readTree(lines.get(0));
        assertEquals(20, first.get("tokens").asInt());
        assertEquals(first.get("loss").asDouble(), json.readTree(lines.get(1)).get("loss").asDouble());
        assertTrue(json.readTree(lines.get(2)).get("error").asText().startsWith("not JSON"));
        assertTrue(json.readTree(lines.get(3)).get("error").asText().contains("id 999 at position 1"));
        assertTrue(json.readTree(lines.get(4)).get("error").asText().contains("1 ids"));

        // Every input position has its logits, the last one (no target, the next token's prediction) included; the
        // loss recomputed from them (log-softmax at each next byte) must match.
        Safetensors.Header header = Safetensors.readHeader(logits);
        Safetensors.Entry e = header.entries().get("logits.1");
        assertArrayEquals(new int[] {20, 256}, e.shape());
        float[] values = new float[(int) e.elements()];
        Safetensors.read(logits, header, e, values, 0);
        double sum = 0;
        for (int t = 0; t < 19; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < 256; v++) {
                max = Math.max(max, values[t * 256 + v]);
            }
            double z = 0;
            for (int v = 0; v < 256; v++) {
                z += Math.exp(values[t * 256 + v] - max);
            }
            sum += max + Math.log(z) - values[t * 256 + (bytes[t + 1] & 0xff)];
        }
        assertEquals(sum / 19, first.get("loss").asDouble(), 1e-5);
        // The last row is what the model predicts after the 20 tokens: the same row of the sequence that goes on
        // with the 21st token (attention is causal), where that row has a target.
        Safetensors.Entry next = header.entries().get("logits.6");
        assertArrayEquals(new int[] {21, 256}, next.shape());
        float[] nextValues = new float[(int) next.elements()];
        Safetensors.read(logits, header, next, nextValues, 0);
        for (int v = 0; v < 256; v++) {
            assertEquals(nextValues[19 * 256 + v], values[19 * 256 + v], 1e-4, "position 19, vocab " + v);
        }
        assertTrue(java.util.stream.IntStream.range(0, 256).mapToDouble(v -> Math.abs(values[19 * 256 + v]))
                .sum() > 0, "the last position's logits are written, not left zero");

        assertEquals(2, SparkMoeMain.run("score", "--checkpoint", dir.resolve("missing").toString(), "--input",
                input.toString()));
    }

    @Test
    void scoreEncodesTextLinesWithTheGivenTokenizer(@TempDir Path dir) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<String> fortunes = Files.readAllLines(SharedData.trainCorpus().resolve("en_fortunes.jsonl")).stream()
                .map(l -> readText(json, l)).toList();
        PreTokenCounter counter = new PreTokenCounter(DeepSeekRules.preTokenizer());
        fortunes.forEach(counter::add);
        Tokenizer tokenizer = BpeTrainer.train(counter.counts(), TrainerConfig.deepSeek(400, 2));
        Path tokenizerFile = dir.resolve("tokenizer.json");
        Files.writeString(tokenizerFile, tokenizer.toJson());

        ModelConfig tiny = ModelPresets.load("tiny");
        Path checkpoint = dir.resolve("ckpt");
        try (TrainingEngine engine = TrainingEngine.create(tiny, TrainConfig.forInference(1), new CpuBackend(1), 4)) {
            Checkpoints.save(engine, checkpoint, Safetensors.Dtype.F32);
        }
        String text = fortunes.stream().filter(t -> t.length() > 20 && tokenizer.encode(t, true).length <= 65)
                .findFirst().orElseThrow();
        int[] ids = tokenizer.encode(text, true);
        Path input = dir.resolve("in.jsonl");
        Files.write(input, List.of(json.writeValueAsString(java.util.Map.of("text", text)),
                json.writeValueAsString(ids)));
        Path output = dir.resolve("out.jsonl");
        assertEquals(0, SparkMoeMain.run("score", "--checkpoint", checkpoint.toString(), "--input", input.toString(),
                "--output", output.toString(), "--tokenizer", tokenizerFile.toString(), "--threads", "1"));
        List<String> lines = Files.readAllLines(output);
        JsonNode fromText = json.readTree(lines.get(0));
        JsonNode fromIds = json.readTree(lines.get(1));
        assertEquals(ids.length, fromText.get("tokens").asInt());
        assertEquals(fromIds.get("loss").asDouble(), fromText.get("loss").asDouble());

        // Without a tokenizer a text line is reported, not fatal; a tokenizer larger than the model is refused.
        assertEquals(0, SparkMoeMain.run("score", "--checkpoint", checkpoint.toString(), "--input", input.toString(),
                "--output", output.toString(), "--threads", "1"));
        assertTrue(json.readTree(Files.readAllLines(output).get(0)).get("error").asText().contains("--tokenizer"));
        assertEquals(2, SparkMoeMain.run("score", "--checkpoint", checkpoint.toString(), "--input", input.toString(),
                "--tokenizer", SharedData.deepseekV3Tokenizer().toString()));
    }

    private static String readText(ObjectMapper json, String line) {
        try {
            return json.readTree(line).get("text").asText();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
