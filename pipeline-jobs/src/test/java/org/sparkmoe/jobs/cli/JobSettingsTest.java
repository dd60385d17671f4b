package org.sparkmoe.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Settings resolution: bundled defaults, then --config, then the command line; unknown keys refused by name. */
class JobSettingsTest {

    /** A job that only declares options, so resolution can be tested without running anything. */
    static final class SettingsProbeJob implements Job {
        @Override public String name() { return "settings-probe"; }
        @Override public String summary() { return "test job"; }
        @Override public List<JobOption> options() {
            return List.of(
                    JobOption.repeatable("input", "input URIs", true),
                    JobOption.of("bands", "LSH bands"),
                    JobOption.of("threshold", "Jaccard threshold"),
                    JobOption.of("name", "a name"),
                    JobOption.flag("verbose", "say more"));
        }
        @Override public int run(JobSettings settings) { return 0; }
    }

    private final Job job = new SettingsProbeJob();

    @Test
    void commandLineOverridesConfigFileOverridesBundledDefaults(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("my.properties");
        Files.writeString(config, "bands=20\nname=from-file\n");
        JobSettings s = JobSettings.resolve(job, List.of("--input", "a.jsonl", "--config", config.toString(),
                "--set", "name=from-cli"));
        assertEquals(20, s.integer("bands"));
        assertEquals(0.72, s.number("threshold"));
        assertEquals("from-cli", s.string("name"));
        assertEquals(List.of("a.jsonl"), s.list("input"));
    }

    @Test
    void repeatableOptionsCollectEveryValue() {
        JobSettings s = JobSettings.resolve(job, List.of("--input", "a", "--input=b", "--set", "input=c"));
        assertEquals(List.of("a", "b", "c"), s.list("input"));
    }

    @Test
    void unknownKeyIsRefusedNamingItAndTheKnownOnes() {
        UsageException e = assertThrows(UsageException.class,
                () -> JobSettings.resolve(job, List.of("--input", "a", "--bandz", "3")));
        assertTrue(e.getMessage().contains("'bandz'"), e.getMessage());
        assertTrue(e.getMessage().contains("bands"), e.getMessage());
    }

    @Test
    void unknownKeyInConfigFileNamesTheFile(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("bad.properties");
        Files.writeString(config, "rows=8\n");
        UsageException e = assertThrows(UsageException.class,
                () -> JobSettings.resolve(job, List.of("--input", "a", "--config", config.toString())));
        assertTrue(e.getMessage().contains(config.toString()), e.getMessage());
    }

    @Test
    void missingConfigFileAndMissingRequiredOptionAreClearErrors(@TempDir Path dir) {
        UsageException missingFile = assertThrows(UsageException.class, () -> JobSettings.resolve(job,
                List.of("--input", "a", "--config", dir.resolve("nope.properties").toString())));
        assertTrue(missingFile.getMessage().contains("does not exist"), missingFile.getMessage());
        UsageException missingInput = assertThrows(UsageException.class, () -> JobSettings.resolve(job, List.of()));
        assertTrue(missingInput.getMessage().contains("--input"), missingInput.getMessage());
    }

    @Test
    void badNumberNamesKeyValueAndOrigin() {
        JobSettings s = JobSettings.resolve(job, List.of("--input", "a", "--bands", "many"));
        UsageException e = assertThrows(UsageException.class, () -> s.integer("bands"));
        assertTrue(e.getMessage().contains("bands=many") && e.getMessage().contains("command line"), e.getMessage());
    }

    @Test
    void sparkKeysPassThroughAndSingleValuedOptionsRefuseRepeats() {
        JobSettings s = JobSettings.resolve(job, List.of("--input", "a", "--spark.master", "local[1]"));
        assertEquals("local[1]", s.sparkConf().get("spark.master"));
        assertFalse(s.sparkConf().containsKey("bands"));
        assertThrows(UsageException.class,
                () -> JobSettings.resolve(job, List.of("--input", "a", "--bands", "1", "--bands", "2")));
    }

    @Test
    void aSwitchAloneMeansTrueAndStillTakesAnExplicitValue() {
        assertTrue(JobSettings.resolve(job, List.of("--verbose", "--input", "a")).bool("verbose"));
        assertTrue(JobSettings.resolve(job, List.of("--input", "a", "--verbose")).bool("verbose"));
        assertFalse(JobSettings.resolve(job, List.of("--verbose", "false", "--input", "a")).bool("verbose"));
    }

    @Test
    void helpListsEveryOptionWithItsDefault() {
        String help = JobHelp.render(job);
        assertTrue(help.contains("--bands") && help.contains("default: 14"), help);
        assertTrue(help.contains("--input (required) (repeatable)"), help);
    }
}
