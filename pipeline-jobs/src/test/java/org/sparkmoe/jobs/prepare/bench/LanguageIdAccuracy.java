package org.sparkmoe.jobs.prepare.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.sparkmoe.jobs.prepare.LanguageGuess;
import org.sparkmoe.jobs.prepare.LanguageIdentifier;
import org.sparkmoe.jobs.prepare.TextCleaner;
import org.sparkmoe.jobs.prepare.CodeDetector;

/**
 * Measures {@link LanguageIdentifier} accuracy and prints a confusion table per labelled set:
 * <ul>
 *   <li>validation: ../shared/corpus/validation, labelled by file (en.jsonl en, zh.jsonl zh,
 *       code_other.jsonl other: it is Dutch);</li>
 *   <li>train-sample: the hand-labelled ids in src/test/resources/lid/train-sample-labels.tsv.</li>
 * </ul>
 * Documents are cleaned first, exactly as the job does. Run: see docs/benchmarks.md, section prepare.
 */
public final class LanguageIdAccuracy {

    /** One labelled set's outcome. */
    public record Result(String name, int total, int correct, Map<String, Map<String, Integer>> confusion,
                         List<String> errors, double docsPerSecond) {
        public double accuracy() {
            return total == 0 ? 0 : (double) correct / total;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TextCleaner CLEANER = new TextCleaner(true);

    public static void main(String[] args) throws IOException {
        Path shared = Path.of(args.length > 0 ? args[0] : System.getProperty("sparkmoe.shared", "../shared"));
        LanguageIdentifier lid = defaultIdentifier();
        for (Result r : List.of(validation(lid, shared.resolve("corpus/validation")),
                trainSample(lid, shared.resolve("corpus/train")))) {
            System.out.printf("%s: %d/%d correct = %.3f, %.0f docs/s (one thread)%n", r.name(), r.correct(),
                    r.total(), r.accuracy(), r.docsPerSecond());
            System.out.println("  truth -> predicted counts: " + r.confusion());
            r.errors().forEach(e -> System.out.println("  miss: " + e));
        }
    }

    /** The identifier with the job's default code-detector settings (conf/prepare.properties). */
    public static LanguageIdentifier defaultIdentifier() {
        return new LanguageIdentifier(new CodeDetector(0.5, 5));
    }

    public static Result validation(LanguageIdentifier lid, Path dir) throws IOException {
        Map<String, String> labelByFile = Map.of("en.jsonl", LanguageGuess.EN, "zh.jsonl", LanguageGuess.ZH,
                "code_other.jsonl", LanguageGuess.OTHER);
        List<String[]> labelled = new ArrayList<>();
        for (Map.Entry<String, String> e : new TreeMap<>(labelByFile).entrySet()) {
            for (JsonNode doc : readJsonl(dir.resolve(e.getKey()))) {
                labelled.add(new String[] {doc.get("id").asText(), doc.get("text").asText(), e.getValue()});
            }
        }
        return score("validation", lid, labelled);
    }

    public static Result trainSample(LanguageIdentifier lid, Path trainDir) throws IOException {
        Map<String, String> labels = new HashMap<>();
        try (InputStream in = LanguageIdAccuracy.class.getResourceAsStream("/lid/train-sample-labels.tsv");
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            r.lines().filter(l -> !l.startsWith("#") && !l.isBlank())
                    .forEach(l -> labels.put(l.split("\t")[0], l.split("\t")[1]));
        }
        List<String[]> labelled = new ArrayList<>();
        try (Stream<Path> files = Files.list(trainDir)) {
            for (Path f : files.sorted().toList()) {
                for (JsonNode doc : readJsonl(f)) {
                    String label = labels.get(doc.get("id").asText());
                    if (label != null) {
                        labelled.add(new String[] {doc.get("id").asText(), doc.get("text").asText(), label});
                    }
                }
            }
        }
        if (labelled.size() != labels.size()) {
            throw new IllegalStateException("labels name " + labels.size() + " ids, train has " + labelled.size());
        }
        return score("train-sample", lid, labelled);
    }

    private static Result score(String name, LanguageIdentifier lid, List<String[]> labelled) {
        Map<String, Map<String, Integer>> confusion = new TreeMap<>();
        List<String> errors = new ArrayList<>();
        int correct = 0;
        List<String> cleaned = labelled.stream().map(d -> CLEANER.clean(d[1])).toList();
        long start = System.nanoTime();
        for (int i = 0; i < labelled.size(); i++) {
            LanguageGuess g = lid.identify(cleaned.get(i));
            String truth = labelled.get(i)[2];
            confusion.computeIfAbsent(truth, k -> new TreeMap<>()).merge(g.lang(), 1, Integer::sum);
            if (g.lang().equals(truth)) {
                correct++;
            } else {
                errors.add(labelled.get(i)[0] + " truth=" + truth + " got=" + g);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(name, labelled.size(), correct, confusion, errors, labelled.size() / seconds);
    }

    private static List<JsonNode> readJsonl(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        return out;
    }
}
