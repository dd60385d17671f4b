package org.sparkmoe.tokenizer.bench;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.testing.TestCorpus;

/**
 * Encode throughput on English and Chinese train text: our encoder and HF tokenizers (DJL, same JVM) on the same
 * DeepSeek-V3 tokenizer.json, and jtokkit's o200k as a pure-Java anchor. The {@code bytes} counter is UTF-8 bytes
 * encoded per second (divide by 1e6 for MB/s). Run with {@code -t 1} and {@code -t 2}:
 * <pre>bin/bench tokenizer EncodeBenchmark -f 1 -wi 2 -w 3s -i 3 -r 5s -t 1</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class EncodeBenchmark {

    /** Language of the text: English files or Chinese files of corpus/train. */
    @Param({"en", "zh"})
    public String lang;

    /** ours = our encoder, djl = HF tokenizers through DJL (both on DeepSeek-V3), jtokkit = o200k. */
    @Param({"ours", "djl", "jtokkit"})
    public String impl;

    private static final long TEXT_BYTES = 1_000_000;

    private List<String> texts;
    private long[] sizes;
    private Tokenizer ours;
    private HuggingFaceTokenizer djl;
    private Encoding jtokkit;

    /** UTF-8 bytes encoded, per thread; JMH reports it per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        public long bytes;
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        String prefix = lang + "_";
        texts = new ArrayList<>();
        long total = 0;
        List<List<String>> files = TestCorpus.files("train").stream()
                .filter(p -> p.getFileName().toString().startsWith(prefix)).map(TestCorpus::texts).toList();
        // Round-robin over the files so every source is represented in the first megabyte.
        for (int i = 0; total < TEXT_BYTES; i++) {
            boolean any = false;
            for (List<String> f : files) {
                if (i < f.size() && total < TEXT_BYTES) {
                    texts.add(f.get(i));
                    total += f.get(i).getBytes(StandardCharsets.UTF_8).length;
                    any = true;
                }
            }
            if (!any) {
                break;
            }
        }
        sizes = texts.stream().mapToLong(t -> t.getBytes(StandardCharsets.UTF_8).length).toArray();
        switch (impl) {
            case "ours" -> ours = Tokenizer.load(TestCorpus.deepseekV3());
            case "djl" -> djl = HuggingFaceTokenizer.builder().optTokenizerPath(TestCorpus.deepseekV3())
                    .optAddSpecialTokens(false).optTruncation(false).optPadding(false).build();
            case "jtokkit" -> jtokkit = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.O200K_BASE);
            default -> throw new IllegalArgumentException("impl " + impl);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (djl != null) {
            djl.close();
        }
    }

    @Benchmark
    public void encodeOneMegabyte(Counters counters, Blackhole bh) {
        for (int i = 0; i < texts.size(); i++) {
            String text = texts.get(i);
            switch (impl) {
                case "ours" -> bh.consume(ours.encode(text));
                case "djl" -> bh.consume(djl.encode(text).getIds());
                default -> bh.consume(jtokkit.encodeOrdinary(text));
            }
            counters.bytes += sizes[i];
        }
    }
}
