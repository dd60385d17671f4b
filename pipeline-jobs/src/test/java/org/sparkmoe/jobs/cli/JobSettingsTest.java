package org.sparkmoe.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.io.InputFiles;
import org.sparkmoe.jobs.prepare.PrepareConfig;
import org.sparkmoe.jobs.prepare.PrepareJob;
import org.sparkmoe.jobs.refresh.RefreshConfig;
import org.sparkmoe.jobs.refresh.RefreshJob;
import org.sparkmoe.jobs.train.RunDirectory;
import org.sparkmoe.jobs.train.TrainJob;
import org.sparkmoe.jobs.train.TrainSettings;

/** Settings resolution: bundled defaults, then --config, then the command line; unknown keys refused by name. */
class JobSettingsTest {

    /**
     * A job whose options are those of its test conf file (test resources, sparkmoe-conf/settings-probe.properties),
     * so resolution can be tested without running anything.
     */
    static final class SettingsProbeJob implements Job {
        @Override public String name() { return "settings-probe"; }
        @Override public String summary() { return "test job"; }
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
    void aRepeatedOptionKeepsACommaInsideAValueAndTheJobsExpandItWhole(@TempDir Path dir) throws Exception {
        for (String name : List.of("a.jsonl", "b.jsonl", "c.jsonl", "d,e.jsonl")) {
            Files.writeString(dir.resolve(name), "{\"text\": \"x\"}\n");
        }
        String glob = dir.toUri() + "{a,b}.jsonl";
        String commaFile = dir.resolve("d,e.jsonl").toString();
        List<String> args = List.of("--input", glob, "--input=" + commaFile);
        assertEquals(List.of(glob, commaFile), JobSettings.resolve(job, args).list("input"));
        JobSettings once = JobSettings.resolve(job, List.of("--input", glob));
        assertEquals(List.of(glob), once.list("input"));
        assertEquals(glob, once.string("input"));

        List<String> prepareArgs = new ArrayList<>(args);
        prepareArgs.addAll(List.of("--output", dir.resolve("prepared").toString()));
        PrepareConfig prepare = PrepareConfig.from(JobSettings.resolve(new PrepareJob(), prepareArgs));
        assertEquals(List.of(glob, commaFile), prepare.inputs());
        // Hadoop expands the brace glob to its two files, and the comma file is read as the one file it is.
        assertEquals(List.of("a.jsonl", "b.jsonl", "d,e.jsonl"), InputFiles.expand(new Configuration(), prepare.inputs())
                .stream().map(f -> new org.apache.hadoop.fs.Path(f.uri()).getName()).toList());

        List<String> refreshArgs = new ArrayList<>(args);
        refreshArgs.addAll(List.of("--target", dir.resolve("dataset").toString(), "--tokenizer", "tokenizer.json"));
        assertEquals(List.of(glob, commaFile),
                RefreshConfig.from(JobSettings.resolve(new RefreshJob(), refreshArgs)).inputs());
    }

    @Test
    void everyJobsRepeatableOptionKeepsCommasInsideItsValues() {
        String glob = "hdfs://nn/corpus/{a,b}.jsonl";
        int checked = 0;
        for (Job each : SparkMoeMain.jobs().values()) {
            for (JobOption repeatable : each.options().stream().filter(JobOption::repeatable).toList()) {
                List<String> args = new ArrayList<>(List.of("--" + repeatable.key(), glob,
                        "--" + repeatable.key(), "x"));
                each.options().stream().filter(o -> o.required() && !o.repeatable())
                        .forEach(o -> args.addAll(List.of("--" + o.key(), "v")));
                assertEquals(List.of(glob, "x"), JobSettings.resolve(each, args).list(repeatable.key()),
                        each.name() + " --" + repeatable.key());
                checked++;
            }
        }
        assertTrue(checked >= 3, "prepare, refresh and demo each have a repeatable --input; checked " + checked);
    }

    @Test
    void aValueFromAConfigFileOrSetOrASingleValuedOptionIsStillACommaList(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("inputs.properties");
        Files.writeString(config, "input=a,b\nlanguages=en, zh\n");
        JobSettings fromFile = JobSettings.resolve(job, List.of("--config", config.toString()));
        assertEquals(List.of("a", "b"), fromFile.list("input"));
        assertEquals(List.of("en", "zh"), fromFile.list("languages"));
        assertEquals(List.of("a", "b"), JobSettings.resolve(job, List.of("--set", "input=a,b")).list("input"));
        assertEquals(List.of("en", "zh"),
                JobSettings.resolve(job, List.of("--input", "a", "--languages", "en,zh")).list("languages"));
        assertEquals(List.of("d/{a,b}", "c", "e"),
                JobSettings.resolve(job, List.of("--input", "d/{a,b}", "--set", "input=c,e")).list("input"));
        assertEquals(List.of("a", "b"), JobSettings.of("settings-probe", Map.of("input", "a,b")).list("input"));
        PrepareConfig prepare = PrepareConfig.from(JobSettings.resolve(new PrepareJob(),
                List.of("--input", "a", "--output", "b", "--lid.keep-languages", "en,code")));
        assertEquals(Set.of("en", "code"), prepare.keepLanguages());
    }

    @Test
    void theResolvedConfigATrainRunWritesReadsBackAsTheSameSettings(@TempDir Path dir) throws Exception {
        JobSettings resolved = JobSettings.resolve(new TrainJob(), List.of("--manifest",
                "hdfs://nn/data/v1/manifest.json", "--runs", dir.toString(), "--run-id", "r1", "--workers", "3",
                "--outer-lr", "0.7", "--set", "spark.jars=a.jar,b.jar", "--spark.master", "local[2]"));
        RunDirectory run = RunDirectory.under(dir.toString(), "r1", new Configuration());
        FileSystem fs = run.fileSystem();
        fs.mkdirs(run.root());
        run.writeResolvedConfig(fs, resolved.asMap());
        JobSettings read = run.readResolvedConfig(fs);
        assertEquals(resolved.asMap(), read.asMap());
        assertEquals(TrainSettings.from(resolved), TrainSettings.from(read));
        assertEquals(Map.of("spark.jars", "a.jar,b.jar", "spark.master", "local[2]"), read.sparkConf());
    }

    @Test
    void resolvedSettingsWithRepeatedValuesReadBackAsAConfigFileToTheSameJobConfig(@TempDir Path dir)
            throws Exception {
        JobSettings resolved = JobSettings.resolve(new PrepareJob(), List.of("--input", "hdfs://nn/a.jsonl",
                "--input", "hdfs://nn/b/*.jsonl", "--output", "hdfs://nn/prepared", "--minhash.bands", "10"));
        Properties written = new Properties();
        written.putAll(resolved.asMap());
        Path config = dir.resolve("resolved.properties");
        try (var out = Files.newBufferedWriter(config)) {
            written.store(out, "resolved");
        }
        JobSettings read = JobSettings.resolve(new PrepareJob(), List.of("--config", config.toString()));
        assertEquals(List.of("hdfs://nn/a.jsonl", "hdfs://nn/b/*.jsonl"), read.list("input"));
        assertEquals(PrepareConfig.from(resolved), PrepareConfig.from(read));
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
        assertTrue(help.contains("is one item, commas included"), help);
    }
}
