package org.sparkmoe.jobs.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.testing.ConsoleCapture;
import org.sparkmoe.jobs.testing.LocalSpark;

/** The shared progress lines on a real local Spark: steps with ETAs, and task lines that never come per task. */
class JobProgressTest {

    private static final int TASKS = 40;

    @Test
    void aStepOfManyTasksSaysHowFarItIsAtMostOncePerIntervalAndEachStepEndsWithAnEta() throws Exception {
        SparkSession spark = LocalSpark.get();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<ConsoleCapture.Line> captured;
        try (ConsoleCapture capture = new ConsoleCapture();
             JobProgress progress = JobProgress.steps(spark, "sleepy", 2, Duration.ofMillis(300))) {
            progress.begin("sleep in every task");
            long slept = sc.parallelize(IntStream.range(0, TASKS).boxed().toList(), TASKS).map(i -> {
                Thread.sleep(60);
                return 1L;
            }).reduce(Long::sum);
            progress.done(slept + " tasks slept");
            progress.begin("count on the driver");
            progress.done("nothing to wait for");
            // Task lines come from Spark's listener thread; the bus has delivered them once the job's last task ended.
            spark.sparkContext().listenerBus().waitUntilEmpty();
            captured = capture.lines().stream().filter(l -> l.logger().equals(JobProgress.class.getName())).toList();
        }
        List<String> lines = captured.stream().map(ConsoleCapture.Line::message).toList();
        List<ConsoleCapture.Line> tasks = captured.stream().filter(l -> l.message().contains(" tasks; ETA ")).toList();
        List<String> taskLines = tasks.stream().map(ConsoleCapture.Line::message).toList();
        assertTrue(!taskLines.isEmpty() && taskLines.size() < TASKS, "some task lines, not one per task: " + lines);
        for (int i = 1; i < tasks.size(); i++) {
            // The interval is measured on the monotonic clock, the log's times on the wall clock: allow for the gap.
            assertTrue(tasks.get(i).millis() - tasks.get(i - 1).millis() >= 290, "at most one line per interval: "
                    + tasks.get(i - 1) + " @" + tasks.get(i - 1).millis() + ", " + tasks.get(i) + " @"
                    + tasks.get(i).millis());
        }
        for (String line : taskLines) {
            assertTrue(line.matches("sleepy step 1/2 sleep in every task: \\d+ of " + TASKS + " tasks; ETA \\d+m\\d\\ds"),
                    line);
        }
        List<String> stepLines = lines.stream().filter(l -> !taskLines.contains(l)).toList();
        assertEquals(2, stepLines.size(), lines.toString());
        assertTrue(stepLines.get(0).matches("sleepy step 1/2 sleep in every task: " + TASKS
                + " tasks slept \\(\\d+\\.\\d s\\); ETA \\d+m\\d\\ds"), stepLines.get(0));
        assertTrue(stepLines.get(1).matches("sleepy step 2/2 count on the driver: nothing to wait for \\(\\d+\\.\\d s\\);"
                + " done in \\d+m\\d\\ds"), stepLines.get(1));
    }

    @Test
    void roundsResumedPartWayCountTheirEtaFromTheRoundsThisRunDid() {
        try (ConsoleCapture capture = new ConsoleCapture()) {
            JobProgress rounds = JobProgress.rounds("train", 8, 10);
            rounds.done("loss 1.0");
            rounds.done("loss 0.9");
            assertEquals(List.of("train round 9/10: loss 1.0; ETA 0m00s", "train round 10/10: loss 0.9; done in 0m00s"),
                    capture.lines().stream().map(ConsoleCapture.Line::message).toList());
        }
    }
}
