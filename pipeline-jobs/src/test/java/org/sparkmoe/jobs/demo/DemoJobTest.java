package org.sparkmoe.jobs.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.logging.log4j.LogManager;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.testing.ConsoleCapture;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * The demo's console, run for real (prepare, train-tokenizer, tokenize, train, evaluate on corpus text, Spark local
 * mode with two workers) and read back through log4j2: each notice once, one progress line per round of train, and
 * one line with an ETA per step of the long jobs, never a line per task.
 */
class DemoJobTest {

    private static final int ROUNDS = 3;
    /** A progress line: job, unit, number, total, and how it ends (an ETA, or the job's time when it is the last). */
    private static final Pattern PROGRESS =
            Pattern.compile("^(\\S+) (step|round) (\\d+)/(\\d+)\\b.*; (ETA \\d+m\\d\\ds|done in \\d+m\\d\\ds)$");

    @TempDir
    static Path dir;
    private static List<ConsoleCapture.Line> console;

    @BeforeAll
    static void runTheDemo() throws Exception {
        Path corpus = Files.createDirectories(dir.resolve("corpus"));
        for (String file : List.of("en_wikitext.jsonl", "zh_manpages.jsonl", "code.jsonl")) {
            try (var lines = Files.lines(SharedData.trainCorpus().resolve(file))) {
                Files.write(corpus.resolve(file), lines.limit(150).toList());
            }
        }
        LocalSpark.get();
        try (ConsoleCapture capture = new ConsoleCapture()) {
            assertEquals(0, SparkMoeMain.run("demo", "--input", corpus.toString(), "--output",
                    dir.resolve("demo").toString(), "--rounds", "" + ROUNDS, "--local-steps", "2", "--workers", "2"));
            console = capture.lines();
        }
        console.forEach(System.out::println);
    }

    @Test
    void trainSaysOneLinePerRoundWithLossAndEta() {
        List<String> rounds = console.stream().map(ConsoleCapture.Line::message)
                .filter(m -> m.startsWith("train round ")).toList();
        assertEquals(ROUNDS, rounds.size(), rounds.toString());
        for (int r = 1; r <= ROUNDS; r++) {
            String line = rounds.get(r - 1);
            assertTrue(line.startsWith("train round " + r + "/" + ROUNDS + ": loss "), line);
            assertTrue(line.contains(" tok/s ") && line.contains(" overhead "), line);
            assertTrue(PROGRESS.matcher(line).matches(), line);
        }
    }

    @Test
    void everyLongJobReportsEachStepWithAnEta() {
        Map<String, TreeMap<Integer, String>> steps = new TreeMap<>();
        Map<String, Integer> totals = new TreeMap<>();
        for (ConsoleCapture.Line line : console) {
            Matcher m = PROGRESS.matcher(line.message());
            if (m.matches() && m.group(2).equals("step")) {
                int number = Integer.parseInt(m.group(3));
                int total = Integer.parseInt(m.group(4));
                totals.put(m.group(1), total);
                steps.computeIfAbsent(m.group(1), k -> new TreeMap<>()).put(number, m.group(5));
                assertTrue(number < total == m.group(5).startsWith("ETA"),
                        "an ETA until the last step, then the job's time: " + line);
            }
        }
        assertEquals(List.of("evaluate", "prepare", "tokenize", "train-tokenizer"), List.copyOf(steps.keySet()),
                console.toString());
        steps.forEach((job, done) -> assertEquals(totals.get(job), done.size(), job + " reports every step: " + done));
    }

    @Test
    void eachNoticeIsSaidOnce() {
        // Progress lines differ by their numbers; a notice repeated per task, round or engine would repeat here.
        Map<String, Long> repeated = console.stream()
                .collect(Collectors.groupingBy(ConsoleCapture.Line::toString, TreeMap::new, Collectors.counting()));
        repeated.values().removeIf(n -> n == 1);
        assertEquals(Map.of(), repeated, "notices said more than once");

        assertEquals(1, count("dataset v1 split train: ", "sequences of 64+1"), "the workers' dataset, every round");
        assertEquals(1, count("dataset v1 split validation: ", "sequences of 64+1"), "the evaluation tasks' dataset");
        assertTrue(count("Using backend: cpu", "") <= 1, "the CPU backend banner");
        assertTrue(count("Engine: model tiny", "") <= 1, "the engine banner");
        assertTrue(count("Spark 4.", "master=") <= 1, "the Spark session, started once for all stages");
    }

    @Test
    void sparkAndHadoopStartWithoutNoise() {
        List<String> noise = console.stream().filter(l -> !l.logger().startsWith("org.sparkmoe"))
                .filter(l -> !l.level().equals("ERROR")).map(Object::toString).toList();
        assertEquals(List.of(), noise, "Spark and Hadoop warnings the demo's user cannot act on");
    }

    @Test
    void theStartupWarningsOfSparkAndHadoopAreFilteredAndTheirOthersKept() {
        // The Spark session of this JVM started before the demo; these are the lines each start printed.
        try (ConsoleCapture capture = new ConsoleCapture()) {
            LogManager.getLogger("org.apache.hadoop.util.NativeCodeLoader").warn("Unable to load native-hadoop library"
                    + " for your platform... using builtin-java classes where applicable");
            LogManager.getLogger("org.apache.spark.util.Utils").warn("Your hostname, vm, resolves to a loopback"
                    + " address: 127.0.0.1; using 192.0.2.2 instead (on interface eth0)");
            LogManager.getLogger("org.apache.spark.util.Utils").warn("Set SPARK_LOCAL_IP if you need to bind to"
                    + " another address");
            LogManager.getLogger("org.apache.spark.util.Utils").warn("Service 'sparkDriver' could not bind on a"
                    + " random free port");
            assertEquals(List.of("WARN org.apache.spark.util.Utils: Service 'sparkDriver' could not bind on a random"
                    + " free port"), capture.lines().stream().map(Object::toString).toList());
        }
    }

    private static long count(String start, String contains) {
        return console.stream().map(ConsoleCapture.Line::message)
                .filter(m -> m.startsWith(start) && m.contains(contains)).count();
    }
}
