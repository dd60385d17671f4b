package org.sparkmoe.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.train.TrainConfig;

/**
 * Every job's options come from one place, its {@code conf/<job>.properties}: each key there has a description and
 * follows the naming convention, each documented key is read by the code, and each key the code reads is documented
 * (a read of an undocumented key fails at once, and the sources name none).
 */
class JobOptionsDocumentedTest {

    /** Lowercase words joined by '-'; a dot only separates a group prefix from the option inside it. */
    private static final Pattern CONVENTION = Pattern.compile("[a-z0-9]+(-[a-z0-9]+)*(\\.[a-z0-9]+(-[a-z0-9]+)*)*");
    /** A settings read with a literal key, as the jobs write them (receivers of type JobSettings). */
    private static final Pattern READ = Pattern.compile(
            "\\b(?:s|settings|trainSettings)\\.(?:string|integer|longValue|number|bool|list|has|find)\\(\"([^\"]+)\"");

    private static Path mainSources() {
        return Path.of(System.getProperty("sparkmoe.repo"), "pipeline-jobs", "src", "main", "java");
    }

    private static Map<Path, String> sources() throws IOException {
        Map<Path, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(mainSources())) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                out.put(f, Files.readString(f));
            }
        }
        return out;
    }

    @Test
    void everyJobsOptionsAreItsConfFilesDescribedKeysNamedByTheConvention() {
        for (Job job : SparkMoeMain.jobs().values()) {
            JobConfFile conf = JobConfFile.bundled(job.defaultsResource()).orElseThrow(
                    () -> new AssertionError("job " + job.name() + " has no conf/" + job.defaultsResource()));
            assertEquals(conf.options(), job.options(), job.name() + ": options() must be its conf file's");
            assertFalse(conf.options().isEmpty(), job.name());
            for (JobOption option : conf.options()) {
                String where = conf.origin() + " " + option.key();
                assertTrue(CONVENTION.matcher(option.key()).matches(), where + " breaks the naming convention");
                assertFalse(option.description().isBlank(), where);
                if (option.flag()) {
                    assertTrue(Set.of("true", "false").contains(conf.defaults().get(option.key())),
                            where + ": a switch defaults to true or false");
                }
            }
            job.positionalOption().ifPresent(key -> assertTrue(conf.defaults().containsKey(key), job.name()));
        }
    }

    @Test
    void everyDocumentedKeyIsReadByTheCode() throws IOException {
        String all = String.join("\n", sources().values());
        List<String> unread = new ArrayList<>();
        for (Job job : SparkMoeMain.jobs().values()) {
            for (JobOption option : job.options()) {
                String key = option.key();
                boolean read = key.startsWith("engine.")
                        ? TrainConfig.KEYS.contains(key.substring("engine.".length()))
                        : all.contains("\"" + key + "\"");
                if (!read) {
                    unread.add(job.name() + ": " + key);
                }
            }
        }
        assertEquals(List.of(), unread, "documented keys that no code reads");
        Set<String> engineKeys = new TreeSet<>(TrainConfig.KEYS);
        engineKeys.remove(TrainConfig.TOTAL_STEPS);
        Set<String> trainEngineKeys = new TreeSet<>();
        new org.sparkmoe.jobs.train.TrainJob().options().stream().map(JobOption::key)
                .filter(k -> k.startsWith("engine.")).forEach(k -> trainEngineKeys.add(k.substring("engine.".length())));
        assertEquals(engineKeys, trainEngineKeys, "train documents every TrainConfig key but total-steps as engine.*");
    }

    @Test
    void everyKeyTheCodeReadsIsDocumented() throws IOException {
        Set<String> documented = new TreeSet<>();
        SparkMoeMain.jobs().values().forEach(job -> job.options().forEach(o -> documented.add(o.key())));
        List<String> undocumented = new ArrayList<>();
        int reads = 0;
        for (Map.Entry<Path, String> source : sources().entrySet()) {
            Matcher m = READ.matcher(source.getValue());
            while (m.find()) {
                reads++;
                if (!documented.contains(m.group(1))) {
                    undocumented.add(mainSources().relativize(source.getKey()) + ": " + m.group(1));
                }
            }
        }
        assertTrue(reads > 100, "the scan finds the jobs' reads (" + reads + ")");
        assertEquals(List.of(), undocumented, "keys read in the sources that no conf file documents");

        // At run time, a read of a key the job's conf file does not declare is refused naming the file.
        JobSettings train = JobSettings.resolve(new org.sparkmoe.jobs.train.TrainJob(), List.of("--manifest", "m"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> train.string("context.length"));
        assertTrue(e.getMessage().contains("'context.length'") && e.getMessage().contains("conf/train.properties"),
                e.getMessage());
    }

    @Test
    void theConfFileFormatNeedsADescriptionAboveEveryKeyAndReadsTheMarkers() {
        JobConfFile conf = JobConfFile.parse("conf/x.properties", """
                # Header of the file, not a key's description.

                # [required] [repeatable] Inputs,
                # one per --input.
                input=
                # [switch] Say more.
                verbose=false
                # A regex that continues \\
                # on the next line.
                regex=a\\
                  b
                """);
        assertEquals(List.of(new JobOption("input", "Inputs,\none per --input.", true, true, false),
                new JobOption("verbose", "Say more.", false, false, true),
                new JobOption("regex", "A regex that continues \\\non the next line.", false, false, false)),
                conf.options());
        assertEquals("ab", conf.defaults().get("regex"));
        IllegalStateException bare = assertThrows(IllegalStateException.class,
                () -> JobConfFile.parse("conf/y.properties", "# Header.\n\nkey=1\n"));
        assertTrue(bare.getMessage().contains("conf/y.properties line 3: key 'key' has no description"),
                bare.getMessage());
    }
}
