package org.sparkmoe.tokenizer.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.testing.TestCorpus;
import org.sparkmoe.tokenizer.train.BpeTrainer;
import org.sparkmoe.tokenizer.train.PreTokenCounter;
import org.sparkmoe.tokenizer.train.TrainerConfig;

/**
 * Prints a table: time and peak heap of BPE training (pre-token counting on 2 threads, then the merges) for 8K and
 * 32K vocabularies on the whole train corpus, and bytes per token on the validation text for those tokenizers and
 * DeepSeek-V3's. Peak heap is the sum of the heap pools' peak usage, reset before each phase (it includes garbage
 * not yet collected, so it is an upper bound). Run:
 * <pre>
 * mvn -B -q -pl tokenizer -am test-compile dependency:build-classpath -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=test
 * java -Xmx6g -Dsparkmoe.shared=../shared -cp tokenizer/target/test-classes:tokenizer/target/classes:$(cat tokenizer/target/bench-classpath.txt) org.sparkmoe.tokenizer.bench.TrainingBench
 * </pre>
 */
public final class TrainingBench {

    private TrainingBench() {}

    public static void main(String[] args) throws Exception {
        List<String> train = TestCorpus.texts("train");
        long trainBytes = train.stream().mapToLong(t -> t.getBytes(StandardCharsets.UTF_8).length).sum();
        System.out.printf("train corpus: %d documents, %.1f MB; %d cores available%n", train.size(), trainBytes / 1e6,
                Runtime.getRuntime().availableProcessors());

        resetPeaks();
        long t0 = System.nanoTime();
        Map<String, Long> counts = countOnTwoThreads(train);
        double countSeconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("pre-token counting (2 threads): %.1f s, %d distinct pre-tokens, peak heap %.0f MB%n",
                countSeconds, counts.size(), peakHeapMb());

        Map<String, Tokenizer> tokenizers = new java.util.LinkedHashMap<>();
        System.out.println();
        System.out.println("| vocabulary | merges time (s) | peak heap (MB) |");
        System.out.println("|---:|---:|---:|");
        for (int vocab : new int[] {8_000, 32_000}) {
            System.gc();
            resetPeaks();
            long t = System.nanoTime();
            Tokenizer tokenizer = BpeTrainer.train(counts, TrainerConfig.deepSeek(vocab, 2));
            double seconds = (System.nanoTime() - t) / 1e9;
            System.out.printf("| %d | %.1f | %.0f |%n", vocab, seconds, peakHeapMb());
            tokenizers.put("ours " + vocab / 1000 + "K", tokenizer);
        }
        tokenizers.put("deepseek-v3 (128K)", Tokenizer.load(TestCorpus.deepseekV3()));

        System.out.println();
        System.out.println("| tokenizer | en bytes/token | zh bytes/token | code+other bytes/token |");
        System.out.println("|---|---:|---:|---:|");
        for (Map.Entry<String, Tokenizer> e : tokenizers.entrySet()) {
            System.out.printf("| %s | %.3f | %.3f | %.3f |%n", e.getKey(),
                    bytesPerToken(e.getValue(), "en.jsonl"), bytesPerToken(e.getValue(), "zh.jsonl"),
                    bytesPerToken(e.getValue(), "code_other.jsonl"));
        }
    }

    private static Map<String, Long> countOnTwoThreads(List<String> texts) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Map<String, Long>>> parts = new ArrayList<>();
            for (int part = 0; part < 2; part++) {
                int p = part;
                parts.add(pool.submit(() -> {
                    PreTokenCounter counter = new PreTokenCounter(DeepSeekRules.preTokenizer());
                    for (int i = p; i < texts.size(); i += 2) {
                        counter.add(texts.get(i));
                    }
                    return counter.counts();
                }));
            }
            Map<String, Long> total = new HashMap<>(parts.get(0).get());
            parts.get(1).get().forEach((k, v) -> total.merge(k, v, Long::sum));
            return total;
        } finally {
            pool.shutdown();
        }
    }

    private static double bytesPerToken(Tokenizer tokenizer, String validationFile) {
        long bytes = 0;
        long tokens = 0;
        for (String text : TestCorpus.texts(TestCorpus.root().resolve("corpus/validation").resolve(validationFile))) {
            bytes += text.getBytes(StandardCharsets.UTF_8).length;
            tokens += tokenizer.encode(text).length;
        }
        return (double) bytes / tokens;
    }

    private static void resetPeaks() {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                pool.resetPeakUsage();
            }
        }
    }

    private static double peakHeapMb() {
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak / 1e6;
    }
}
