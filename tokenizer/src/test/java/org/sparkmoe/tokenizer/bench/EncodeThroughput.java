package org.sparkmoe.tokenizer.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.management.OperatingSystemMXBean;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * One-thread encode passes of our encoder over JSON Lines files ({@code {"text": ...}} per line), driven pass by pass
 * from standard input so that {@code scripts/bench/encode_cold_warm.py} can alternate them with the same passes of
 * HF tokenizers ({@code scripts/bench/hf_encode.py}, same protocol) and pair each of ours with one of theirs:
 * <ul>
 *   <li>{@code cold FILE}: a fresh {@link Tokenizer} (empty piece cache) encodes each document of FILE once, in
 *       file order: documents it has never seen.</li>
 *   <li>{@code warm FILE}: the last fresh tokenizer encodes FILE again, as many times as fill a second of CPU time
 *       (the clock is coarse); after its cold pass every piece is cached, as in repeated passes over one text (JMH's
 *       {@code EncodeBenchmark}).</li>
 * </ul>
 * Each answer is one line {@code <MB/s> <MB per CPU-second> <bytes> <tokens>}: wall-clock and process CPU time (JIT
 * and GC threads included), the steadier figure on a shared machine. Before the first command the JIT is warmed up on
 * WARMUP.jsonl (documents disjoint from the measured ones) with a tokenizer of its own; loading a tokenizer is not
 * timed. With {@code --once} it loads the tokenizer, encodes each document once and exits (whole-process timing).
 * <pre>
 * EncodeThroughput tokenizer.json WARMUP.jsonl      (then commands on stdin)
 * EncodeThroughput --once tokenizer.json TEXT.jsonl
 * </pre>
 */
public final class EncodeThroughput {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final OperatingSystemMXBean CPU =
            (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    private EncodeThroughput() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("--once")) {
            System.out.println("tokens " + encodeAll(Tokenizer.load(Path.of(args[1])), texts(Path.of(args[2]))));
            return;
        }
        if (args.length != 2) {
            System.err.println("usage: EncodeThroughput tokenizer.json WARMUP.jsonl (commands 'cold FILE' or 'warm FILE'"
                    + " on stdin) | --once tokenizer.json TEXT.jsonl");
            System.exit(2);
        }
        Path tokenizerJson = Path.of(args[0]);
        List<String> warmup = texts(Path.of(args[1]));
        Tokenizer jitWarmup = Tokenizer.load(tokenizerJson);
        for (int pass = 0; pass < 3; pass++) {
            encodeAll(jitWarmup, warmup);
        }
        Map<String, List<String>> files = new HashMap<>();
        Tokenizer last = null;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready");
        for (String line; (line = in.readLine()) != null && !line.isBlank(); ) {
            String[] command = line.trim().split(" ", 2);
            List<String> docs = files.computeIfAbsent(command[1], f -> texts(Path.of(f)));
            if (command[0].equals("cold")) {
                last = Tokenizer.load(tokenizerJson);
            } else if (!command[0].equals("warm") || last == null) {
                throw new IllegalArgumentException("expected 'cold FILE', or 'warm FILE' after a cold pass: " + line);
            }
            long bytes = docs.stream().mapToLong(d -> d.getBytes(StandardCharsets.UTF_8).length).sum();
            long cpuStart = CPU.getProcessCpuTime();
            long start = System.nanoTime();
            long tokens = encodeAll(last, docs);
            int passes = 1;
            while (command[0].equals("warm") && CPU.getProcessCpuTime() - cpuStart < 1_000_000_000L) {
                encodeAll(last, docs);
                passes++;
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            double cpuSeconds = (CPU.getProcessCpuTime() - cpuStart) / 1e9;
            System.out.printf(Locale.ROOT, "%.4f %.4f %d %d%n", passes * bytes / seconds / 1e6,
                    passes * bytes / cpuSeconds / 1e6, bytes, tokens);
            System.out.flush();
        }
    }

    private static long encodeAll(Tokenizer tokenizer, List<String> docs) {
        long tokens = 0;
        for (String d : docs) {
            tokens += tokenizer.encode(d).length;
        }
        return tokens;
    }

    private static List<String> texts(Path jsonl) {
        try {
            List<String> docs = new ArrayList<>();
            for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    docs.add(JSON.readTree(line).get("text").asText());
                }
            }
            return docs;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
