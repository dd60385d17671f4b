package org.sparkmoe.jobs.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.tokenizer.Tokenizer;

/** encode / decode as the launcher runs them, on DeepSeek-V3's tokenizer.json. */
class EncodeDecodeJobTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKENIZER = SharedData.deepseekV3Tokenizer().toString();

    private static List<String> run(boolean encode, String input, String... args) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
        ByteArrayInputStream in = new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8));
        var job = encode ? new EncodeJob(in, print) : new DecodeJob(in, print);
        assertEquals(0, job.run(JobSettings.resolve(job, Arrays.asList(args))));
        return out.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void encodesEachLineAndDecodesBack() throws Exception {
        Tokenizer tokenizer = Tokenizer.load(SharedData.deepseekV3Tokenizer());
        String a = "Hello, 世界! 12345";
        String b = "second\tline \uD83D\uDE00";
        String input = JSON.createObjectNode().put("text", a) + "\n" + JSON.createObjectNode().put("text", b) + "\n";
        List<String> encoded = run(true, input, "--tokenizer", TOKENIZER, "--no-special");
        assertEquals(2, encoded.size());
        JsonNode first = JSON.readTree(encoded.get(0)).get("ids");
        int[] ids = new int[first.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = first.get(i).asInt();
        }
        assertEquals(Arrays.toString(tokenizer.encode(a)), Arrays.toString(ids));

        List<String> decoded = run(false, String.join("\n", encoded), "--tokenizer", TOKENIZER);
        assertEquals(a, JSON.readTree(decoded.get(0)).get("text").asText());
        assertEquals(b, JSON.readTree(decoded.get(1)).get("text").asText());
    }

    @Test
    void badLinesBecomeErrorsAndTheRestGoesOn() throws Exception {
        List<String> out = run(true, "{\"text\": \"ok\"}\nnot json\n{\"txt\": 1}\n\n{\"text\": \"ok\"}\n",
                "--tokenizer", TOKENIZER);
        assertEquals(5, out.size());
        assertTrue(out.get(1).contains("\"error\":\"line 2:"), out.get(1));
        assertTrue(out.get(2).contains("\"error\":\"line 3:"), out.get(2));
        assertEquals("", out.get(3));
        assertEquals(out.get(0), out.get(4));
        List<String> decoded = run(false, "{\"ids\": [1e9]}\n{\"ids\": [\"x\"]}\n", "--tokenizer", TOKENIZER);
        assertTrue(decoded.get(0).contains("error"), decoded.get(0));
        assertTrue(decoded.get(1).contains("error"), decoded.get(1));
    }

    @Test
    void helpListsTheOptionsAndTheBundledDefaultsMatchThem() {
        // --help resolves conf/<job>.properties, which refuses any key the job does not declare.
        for (String job : List.of("train-tokenizer", "encode", "decode")) {
            assertEquals(0, SparkMoeMain.run(job, "--help"), job);
        }
        JobSettings defaults = JobSettings.resolve(new TrainTokenizerJob(),
                List.of("--input", "in", "--output", "out"));
        assertEquals(32000, defaults.integer("vocab-size"));
        assertEquals(List.of("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"),
                defaults.list("special-tokens"));
    }

    @Test
    void missingOrBrokenTokenizerIsAUsageError() {
        assertEquals(2, SparkMoeMain.run("encode", "--tokenizer", "/no/such/tokenizer.json"));
        assertEquals(2, SparkMoeMain.run("decode"));
    }
}
