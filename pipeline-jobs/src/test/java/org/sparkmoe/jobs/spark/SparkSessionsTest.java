package org.sparkmoe.jobs.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * The job's SparkSession keeps Spark's defaults and every {@code spark.*} the user sets: the web UI is on unless
 * turned off (the test build turns it off with the system property {@code spark.ui.enabled=false}, as spark-submit's
 * {@code --conf} would), and the event log goes where {@code spark.eventLog.dir} says.
 */
class SparkSessionsTest {

    private String testBuildUi;

    @BeforeEach
    void noSession() {
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        testBuildUi = System.getProperty("spark.ui.enabled");
    }

    @AfterEach
    void restore() {
        SparkSession.getDefaultSession().foreach(s -> { s.stop(); return null; });
        if (testBuildUi != null) {
            System.setProperty("spark.ui.enabled", testBuildUi);
        }
    }

    private static JobSettings local(Map<String, String> more) {
        Map<String, String> conf = new java.util.HashMap<>(Map.of("spark.master", "local[1]", "spark.driver.host",
                "localhost"));
        conf.putAll(more);
        return JobSettings.of("settings-probe", conf);
    }

    @Test
    void theWebUiIsOnByDefaultAndOffWhenTheUserSaysSo() {
        System.clearProperty("spark.ui.enabled");
        SparkSession spark = SparkSessions.forJob(local(Map.of()));
        assertTrue(spark.sparkContext().uiWebUrl().isDefined(), "a job keeps Spark's web UI on");
        spark.stop();
        System.setProperty("spark.ui.enabled", "false");
        spark = SparkSessions.forJob(local(Map.of()));
        assertFalse(spark.sparkContext().uiWebUrl().isDefined(), "spark-submit's --conf spark.ui.enabled=false");
        spark.stop();
        System.clearProperty("spark.ui.enabled");
        spark = SparkSessions.forJob(local(Map.of("spark.ui.enabled", "false")));
        assertFalse(spark.sparkContext().uiWebUrl().isDefined(), "--spark.ui.enabled false");
    }

    @Test
    void aJobRunWithTheEventLogOnWritesItsEventLogToTheGivenDirectory(@TempDir Path dir) throws Exception {
        Path events = Files.createDirectory(dir.resolve("events"));
        Path input = dir.resolve("docs.jsonl");
        Files.write(input, Files.readAllLines(SharedData.trainCorpus().resolve("en_fortunes.jsonl")).subList(0, 20));
        assertEquals(0, SparkMoeMain.run("prepare", "--input", input.toString(), "--output",
                dir.resolve("prepared").toString(), "--dedup.near", "false", "--spark.master", "local[1]",
                "--spark.driver.host", "localhost", "--spark.eventLog.enabled", "true",
                "--spark.eventLog.dir", events.toUri().toString()));
        SparkSession spark = SparkSession.getDefaultSession().get();
        String appId = spark.sparkContext().applicationId();
        assertEquals("true", spark.conf().get("spark.eventLog.enabled"));
        spark.stop();
        List<Path> written;
        try (Stream<Path> files = Files.walk(events)) {
            written = files.filter(Files::isRegularFile).filter(p -> p.toString().contains(appId)).toList();
        }
        assertFalse(written.isEmpty(), "an event log of application " + appId + " in " + events);
        assertTrue(written.stream().mapToLong(p -> p.toFile().length()).sum() > 1000, "with the job's events: " + written);
    }
}
