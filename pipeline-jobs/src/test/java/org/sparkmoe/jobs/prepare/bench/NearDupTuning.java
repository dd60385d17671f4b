package org.sparkmoe.jobs.prepare.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.sparkmoe.jobs.prepare.LshBands;
import org.sparkmoe.jobs.prepare.MinHashSignature;
import org.sparkmoe.jobs.prepare.TextCleaner;

/**
 * How the near-dup settings were chosen: exact shingle-set Jaccard similarity, per shingle size, of the corpus's
 * known near-duplicate pairs (SOURCES.md: Pride and Prejudice UTF-8 vs ASCII edition, Frankenstein editions,
 * zh_CN vs zh_TW man pages) and of random pairs from the same file (which must not match), with the candidate
 * probability of each bands × rows setting at those similarities. Prints a table; docs/prepare.md quotes it.
 */
public final class NearDupTuning {

    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws IOException {
        Path train = Path.of(args.length > 0 ? args[0] : "../shared/corpus/train");
        Map<String, String> texts = new LinkedHashMap<>();
        Map<String, List<String>> idsByFile = new LinkedHashMap<>();
        TextCleaner cleaner = new TextCleaner(true);
        try (Stream<Path> files = Files.list(train)) {
            for (Path f : files.sorted().toList()) {
                List<String> ids = new ArrayList<>();
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    JsonNode doc = JSON.readTree(line);
                    texts.put(doc.get("id").asText(), cleaner.clean(doc.get("text").asText()));
                    ids.add(doc.get("id").asText());
                }
                idsByFile.put(f.getFileName().toString(), ids);
            }
        }
        Map<String, List<String[]>> sets = new LinkedHashMap<>();
        sets.put("P&P editions", pairs(texts, "gutenberg-1342-1342-0-p", "gutenberg-1342-1342-p"));
        sets.put("Frankenstein editions", pairs(texts, "gutenberg-84-84-0-p", "gutenberg-84-84-p"));
        sets.put("man zh_CN/zh_TW", pairs(texts, "manpages-zh-zh_CN-", "manpages-zh-zh_TW-"));
        List<String[]> random = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(7);
        for (List<String> ids : idsByFile.values()) {
            for (int i = 0; i < 200; i++) {
                String a = ids.get(rnd.nextInt(ids.size()));
                String b = ids.get(rnd.nextInt(ids.size()));
                if (!a.equals(b) && !texts.get(a).equals(texts.get(b))) {
                    random.add(new String[] {a, b});
                }
            }
        }
        sets.put("random same-file pairs", random);

        System.out.println("| shingle | pair set | pairs | median J | p10 J | share J>=0.7 | max J |");
        System.out.println("|---|---|---:|---:|---:|---:|---:|");
        for (int shingle : new int[] {2, 3, 4, 5, 8}) {
            MinHashSignature m = new MinHashSignature(shingle, 1, 1);
            for (Map.Entry<String, List<String[]>> e : sets.entrySet()) {
                double[] j = e.getValue().stream()
                        .mapToDouble(p -> jaccard(m.shingleHashes(texts.get(p[0])), m.shingleHashes(texts.get(p[1]))))
                        .sorted().toArray();
                long above = Arrays.stream(j).filter(x -> x >= 0.7).count();
                if (e.getKey().startsWith("random")) {
                    e.getValue().stream()
                            .filter(p -> jaccard(m.shingleHashes(texts.get(p[0])), m.shingleHashes(texts.get(p[1]))) >= 0.4)
                            .forEach(p -> System.out.println("|   | random pair with J >= 0.4: " + p[0] + " ~ " + p[1] + " | | | | | |"));
                }
                System.out.printf("| %d | %s | %d | %.3f | %.3f | %.2f | %.3f |%n", shingle, e.getKey(), j.length,
                        j[j.length / 2], j[j.length / 10], (double) above / j.length, j[j.length - 1]);
            }
        }
        System.out.println();
        System.out.println("| bands x rows | threshold (1/b)^(1/r) | P(cand) s=0.5 | 0.7 | 0.8 | 0.9 |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (int[] br : new int[][] {{14, 8}, {20, 5}, {25, 4}, {9, 13}, {20, 13}}) {
            LshBands lsh = new LshBands(br[0], br[1]);
            System.out.printf("| %dx%d | %.2f | %.3f | %.3f | %.3f | %.3f |%n", br[0], br[1],
                    Math.pow(1.0 / br[0], 1.0 / br[1]), lsh.candidateProbability(0.5), lsh.candidateProbability(0.7),
                    lsh.candidateProbability(0.8), lsh.candidateProbability(0.9));
        }
    }

    private static List<String[]> pairs(Map<String, String> texts, String prefixA, String prefixB) {
        List<String[]> out = new ArrayList<>();
        for (String id : texts.keySet()) {
            if (id.startsWith(prefixA)) {
                String other = prefixB + id.substring(prefixA.length());
                if (texts.containsKey(other)) {
                    out.add(new String[] {id, other});
                }
            }
        }
        return out;
    }

    private static double jaccard(long[] a, long[] b) {
        int i = 0;
        int k = 0;
        int inter = 0;
        while (i < a.length && k < b.length) {
            if (a[i] == b[k]) {
                inter++;
                i++;
                k++;
            } else if (a[i] < b[k]) {
                i++;
            } else {
                k++;
            }
        }
        int union = a.length + b.length - inter;
        return union == 0 ? 1.0 : (double) inter / union;
    }
}
