package org.sparkmoe.tokenizer.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * One-thread encode throughput of our encoder on JSON Lines files ({@code {"text": ...}} per line, as the corpus),
 * for machines without Maven: the GPU machine's CPU, next to HF's Python
 * tokenizers (scripts/bench/hf_encode.py). Prints the median of 5 timed passes after 3 warm-up passes.
 * <pre>java -cp ... org.sparkmoe.tokenizer.bench.EncodeThroughput tokenizer.json en.txt zh.txt</pre>
 */
public final class EncodeThroughput {

    private static final ObjectMapper JSON = new ObjectMapper();

    private EncodeThroughput() {}

    public static void main(String[] args) throws Exception {
        Tokenizer tokenizer = Tokenizer.load(Path.of(args[0]));
        for (int f = 1; f < args.length; f++) {
            List<String> docs = new ArrayList<>();
            for (String line : Files.readAllLines(Path.of(args[f]), StandardCharsets.UTF_8)) {
                docs.add(JSON.readTree(line).get("text").asText());
            }
            long bytes = docs.stream().mapToLong(d -> d.getBytes(StandardCharsets.UTF_8).length).sum();
            double[] mbs = new double[5];
            long tokens = 0;
            for (int pass = -3; pass < mbs.length; pass++) {
                long t = System.nanoTime();
                tokens = 0;
                for (String d : docs) {
                    tokens += tokenizer.encode(d).length;
                }
                if (pass >= 0) {
                    mbs[pass] = bytes / ((System.nanoTime() - t) / 1e9) / 1e6;
                }
            }
            Arrays.sort(mbs);
            System.out.printf("ours %s: %.2f MB/s (median of 5), %d bytes, %d tokens%n", args[f], mbs[2], bytes,
                    tokens);
        }
    }
}
