package org.sparkmoe.jobs.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.train.BpeTrainer;
import org.sparkmoe.tokenizer.train.PreTokenCounter;
import org.sparkmoe.tokenizer.train.TrainerConfig;

/**
 * The generate job end to end with real parts: a BPE tokenizer trained on the shared corpus, a {@code tiny} MoE model
 * trained here until it has memorised a passage of a Gutenberg book (ending with EOS), checkpoint, tokenizer, prompts
 * and completions on a real HDFS. Greedy generation from the passage's opening words writes the rest of it exactly
 * and stops at EOS; per-line settings sample reproducibly per seed, differently across seeds, and as greedy at top-k 1
 * or a tiny top-p; bad lines are reported by line number while the others run; backend cuda without a GPU is refused
 * rather than run on the CPU.
 */
class GenerateJobTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    private static MiniHdfs hdfs;
    private static Tokenizer tokenizer;
    private static String passage;
    private static String opening;
    private static int[] passageIds;
    private static Path checkpoint;
    private static Path tokenizerFile;

    @BeforeAll
    static void memorisePassage() throws Exception {
        List<String> fortunes = texts("en_fortunes.jsonl");
        PreTokenCounter counter = new PreTokenCounter(DeepSeekRules.preTokenizer());
        fortunes.forEach(counter::add);
        tokenizer = BpeTrainer.train(counter.counts(), TrainerConfig.deepSeek(400, 2));
        tokenizerFile = dir.resolve("tokenizer.json");
        Files.writeString(tokenizerFile, tokenizer.toJson());
        int eos = tokenizer.tokenId(TrainerConfig.EOS).getAsInt();

        // The longest run of whole words of the book's opening that fits the context with its EOS.
        String[] words = texts("en_gutenberg.jsonl").getFirst().strip().split(" +");
        StringBuilder text = new StringBuilder(words[0]);
        for (int w = 1; w < words.length && tokenizer.encode(text + " " + words[w]).length < 40; w++) {
            text.append(' ').append(words[w]);
        }
        passage = text.toString();
        opening = String.join(" ", Arrays.copyOf(passage.split(" "), 4));
        int[] ids = tokenizer.encode(passage);
        passageIds = Arrays.copyOf(ids, ids.length + 1);
        passageIds[ids.length] = eos;
        assertArrayEquals(tokenizer.encode(opening), Arrays.copyOf(ids, tokenizer.encode(opening).length),
                "the opening encodes as the passage's first tokens");

        Properties props = new Properties();
        try (var in = GenerateJobTest.class.getClassLoader()
                .getResourceAsStream("sparkmoe-conf/models/tiny.properties")) {
            props.load(in);
        }
        props.setProperty("vocab_size", String.valueOf(tokenizer.vocabSize()));
        ModelConfig tiny = ModelPresets.fromProperties("tiny", props);
        TrainConfig train = new TrainConfig(1e-2, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.0, 1.0, 1);
        checkpoint = dir.resolve("checkpoint");
        try (TrainingEngine engine = TrainingEngine.create(tiny, train, new CpuBackend(2), 5)) {
            StepMetrics m = engine.step(passageIds, 1, passageIds.length);
            for (int i = 0; i < 400 && m.loss() > 0.01; i++) {
                m = engine.step(passageIds, 1, passageIds.length);
            }
            System.out.println("memorised " + passageIds.length + " tokens: loss " + m.loss() + " after " + m.step()
                    + " steps");
            assertTrue(m.loss() < 0.01, "the passage is memorised: loss " + m.loss());
            Checkpoints.save(engine, checkpoint, Safetensors.Dtype.F32);
        }
        hdfs = MiniHdfs.start();
    }

    @AfterAll
    static void stopHdfs() {
        if (hdfs != null) {
            hdfs.close();
        }
    }

    private static List<String> texts(String file) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(SharedData.trainCorpus().resolve(file))) {
            out.add(JSON.readTree(line).get("text").asText());
        }
        return out;
    }

    private static String line(Map<String, Object> fields) throws IOException {
        return JSON.writeValueAsString(fields);
    }

    private static List<JsonNode> read(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    private static void copyToHdfs(FileSystem fs, Path local, String target) throws IOException {
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(local.toUri()), new org.apache.hadoop.fs.Path(target));
    }

    @Test
    void theMemorisedPassageContinuesExactlyFromItsOpeningThroughHdfs() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        copyToHdfs(fs, checkpoint, hdfs.uri("/models/memorised"));
        copyToHdfs(fs, tokenizerFile, hdfs.uri("/models/tokenizer.json"));
        try (FSDataOutputStream out = fs.create(new org.apache.hadoop.fs.Path(hdfs.uri("/prompts/in.jsonl")))) {
            out.write((line(Map.of("prompt", opening, "id", "gutenberg-1")) + "\n").getBytes(StandardCharsets.UTF_8));
        }
        assertEquals(0, SparkMoeMain.run("generate", "--checkpoint", hdfs.uri("/models/memorised"), "--tokenizer",
                hdfs.uri("/models/tokenizer.json"), "--input", hdfs.uri("/prompts/in.jsonl"), "--output",
                hdfs.uri("/out/completions.jsonl"), "--greedy", "--max-new-tokens", "60", "--backend", "cpu",
                "--threads", "2"));
        Path local = dir.resolve("completions.jsonl");
        fs.copyToLocalFile(new org.apache.hadoop.fs.Path(hdfs.uri("/out/completions.jsonl")),
                new org.apache.hadoop.fs.Path(local.toUri()));
        List<JsonNode> out = read(local);
        assertEquals(1, out.size());
        JsonNode c = out.getFirst();
        int openingTokens = tokenizer.encode(opening).length;
        int[] expectedIds = Arrays.copyOfRange(passageIds, openingTokens, passageIds.length);
        assertEquals("gutenberg-1", c.get("id").asText());
        assertEquals(opening, c.get("prompt").asText());
        assertEquals(passage.substring(opening.length()), c.get("completion").asText(), "the rest of the passage");
        assertArrayEquals(expectedIds, JSON.treeToValue(c.get("completion_ids"), int[].class), "ending with EOS");
        assertEquals(expectedIds.length, c.get("tokens_generated").asInt());
        assertEquals("eos", c.get("stop").asText());
    }

    @Test
    void perLineSettingsSampleReproduciblyAndBadLinesAreReportedWhileTheRestRun() throws Exception {
        String longPrompt = String.join(" ", texts("en_gutenberg.jsonl").get(1).split(" +"));
        Path input = dir.resolve("mixed.jsonl");
        Map<String, Object> hot = Map.of("prompt", opening, "temperature", 50, "top-k", 0, "max-new-tokens", 12,
                "stop-at-eos", false);
        Files.write(input, List.of(
                line(Map.of("prompt", opening, "id", "greedy", "greedy", true)),
                line(Map.of("prompt", opening, "id", "top-k 1", "top-k", 1, "temperature", 3)),
                line(Map.of("prompt", opening, "id", "tiny top-p", "top-p", 1e-9, "temperature", 3)),
                "not json at all",
                line(merge(hot, "id", "seed 1", "seed", 1)),
                "",
                line(Map.of("prompt", "", "id", "empty")),
                line(merge(hot, "id", "seed 1 again", "seed", 1)),
                line(Map.of("prompt", longPrompt, "id", "too long")),
                line(merge(hot, "id", "seed 2", "seed", 2)),
                line(Map.of("prompt", opening, "top_k", 3)),
                line(Map.of("prompt", opening, "top-k", "five"))));
        Path output = dir.resolve("mixed-out.jsonl");
        assertEquals(0, SparkMoeMain.run("generate", "--checkpoint", checkpoint.toString(), "--tokenizer",
                tokenizerFile.toString(), "--input", input.toString(), "--output", output.toString(), "--batch-size",
                "2", "--prefill-tokens", "8", "--backend", "cpu", "--threads", "1"));
        List<JsonNode> out = read(output);
        assertEquals(11, out.size(), "one output line per non-blank input line");
        int[] lines = out.stream().mapToInt(n -> n.get("line").asInt()).toArray();
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12}, lines, "in input order, by line number");

        JsonNode greedy = out.get(0);
        assertEquals(passage.substring(opening.length()), greedy.get("completion").asText());
        for (int i : new int[] {1, 2}) {
            assertEquals(greedy.get("completion_ids"), out.get(i).get("completion_ids"), out.get(i).get("id") + "");
        }
        JsonNode seed1 = out.get(4);
        JsonNode seed1Again = out.get(6);
        JsonNode seed2 = out.get(8);
        assertEquals(seed1.get("completion_ids"), seed1Again.get("completion_ids"), "the same seed samples alike");
        assertNotEquals(seed1.get("completion_ids"), seed2.get("completion_ids"), "another seed samples otherwise");
        assertEquals("max-new-tokens", seed1.get("stop").asText());
        assertEquals(12, seed1.get("tokens_generated").asInt());

        assertError(out.get(3), 4, 4, "not JSON");
        assertError(out.get(5), 7, "empty", "empty prompt");
        assertError(out.get(7), 9, "too long", "context is 64");
        assertError(out.get(9), 11, 11, "unknown key \"top_k\"");
        assertError(out.get(10), 12, 12, "\"top-k\" must be a whole number");
    }

    private static Map<String, Object> merge(Map<String, Object> base, Object... more) {
        Map<String, Object> out = new java.util.HashMap<>(base);
        for (int i = 0; i < more.length; i += 2) {
            out.put((String) more[i], more[i + 1]);
        }
        return out;
    }

    private static void assertError(JsonNode result, int line, Object id, String message) {
        assertEquals(line, result.get("line").asInt());
        assertEquals(String.valueOf(id), result.get("id").asText());
        assertTrue(result.has("error") && result.get("error").asText().contains(message), result.toString());
        assertTrue(!result.has("completion"), result.toString());
    }

    @Test
    void backendCudaWithoutAGpuIsRefusedNotRunOnTheCpu() throws Exception {
        Path input = dir.resolve("one.jsonl");
        Files.write(input, List.of(line(Map.of("prompt", opening))));
        assertEquals(2, SparkMoeMain.run("generate", "--checkpoint", checkpoint.toString(), "--tokenizer",
                tokenizerFile.toString(), "--input", input.toString(), "--output", dir.resolve("x.jsonl").toString(),
                "--backend", "cuda"));
        assertTrue(!Files.exists(dir.resolve("x.jsonl")), "nothing was generated");
    }
}
