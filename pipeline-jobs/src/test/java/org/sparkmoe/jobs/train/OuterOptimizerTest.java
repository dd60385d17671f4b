package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The outer updates and the aggregation they read, against values worked out by hand in double precision. */
class OuterOptimizerTest {

    @Test
    void dilocoIsNesterovSgdOnTheOuterGradient() {
        DiLoCoOuterOptimizer outer = new DiLoCoOuterOptimizer(2, 0.7f, 0.9f);
        float[] params = {1.0f, -2.0f};
        // Round 1: g = params - mean = (0.5, -1); b = g; params -= 0.7 * (g + 0.9 * b) = 0.7 * 1.9 * g
        outer.apply(params, new float[] {0.5f, -1.0f});
        assertEquals(1.0 - 0.7 * 1.9 * 0.5, params[0], 1e-6);
        assertEquals(-2.0 + 0.7 * 1.9 * 1.0, params[1], 1e-6);
        // Round 2 with the workers back at the same point: g = 0, b = 0.9 * b1; params -= 0.7 * 0.9 * 0.9 * b1.
        float p0 = params[0];
        outer.apply(params, params.clone());
        assertEquals(p0 - 0.7 * 0.81 * 0.5, params[0], 1e-6);
        assertArrayEquals(new float[] {0.9f * 0.5f, 0.9f * -1.0f}, outer.state(), 1e-6f);
    }

    @Test
    void averagingTakesTheMeanExactlyAndDilocoWithLearningRateOneAndNoMomentumEqualsIt() {
        float[] mean = {0.123f, -4.5f, 7e-8f};
        float[] averaged = {9f, 9f, 9f};
        new ParameterAveraging().apply(averaged, mean);
        assertArrayEquals(mean, averaged);
        float[] viaDiloco = {0.25f, -4.0f, 1e-7f};
        new DiLoCoOuterOptimizer(3, 1.0f, 0.0f).apply(viaDiloco, mean);
        assertArrayEquals(mean, viaDiloco, 1e-7f);
    }

    @Test
    void restoringAForeignStateIsRefusedWithTheReason() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DiLoCoOuterOptimizer(4, 0.7f, 0.9f).restore(new float[3]));
        assertEquals(true, e.getMessage().contains("another model config"));
        assertThrows(IllegalArgumentException.class, () -> new ParameterAveraging().restore(new float[2]));
    }

    @Test
    void theAggregatedMeanDoesNotDependOnTheOrderSparkMergesIn() {
        float[][] workers = {{1e-3f, 3.3f, -7f}, {2.5e-3f, 1e4f, 1.1f}, {-4e-3f, 0.1f, 1e-9f}};
        float[] forward = update(workers[0], 0).merge(update(workers[1], 1)).merge(update(workers[2], 2)).meanParameters();
        float[] backward = update(workers[2], 2).merge(update(workers[0], 0).merge(update(workers[1], 1))).meanParameters();
        assertArrayEquals(forward, backward);
        for (int i = 0; i < 3; i++) {
            assertEquals((float) (((double) workers[0][i] + workers[1][i] + workers[2][i]) / 3), forward[i]);
        }
    }

    @Test
    void aSingleWorkersResultShipsInFp32AndIsWidenedOnlyWhenMerged() throws Exception {
        int n = 100_000;
        float[] a = new float[n];
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = 1f + i * 1e-7f;
            b[i] = 3e-8f * i;
        }
        long single = serializedBytes(update(a, 0));
        assertEquals(true, single > 4L * n && single < 4L * n + 4_096, "one worker: 4 bytes per value, got " + single);
        RoundUpdate merged = update(a, 0).merge(update(b, 1));
        assertEquals(true, serializedBytes(merged) > 8L * n, "a merged sum is fp64");
        float[] mean = merged.meanParameters();
        for (int i = 0; i < n; i += 997) {
            assertEquals((float) (((double) a[i] + b[i]) / 2), mean[i]);
        }
        assertArrayEquals(a, update(a, 0).meanParameters(), "the mean of one worker is that worker's vector");
    }

    private static long serializedBytes(Object o) throws java.io.IOException {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        return bytes.size();
    }

    @Test
    void anExcludedWorkerIsReportedButNotAveraged() {
        WorkerReport excluded = new WorkerReport(1, 0, "cpu", "cpu", List.of(), new double[0], "s", true, 0.1, java.util.Map.of(), null);
        RoundUpdate u = update(new float[] {2f}, 0).merge(RoundUpdate.ofWorker(new float[] {Float.NaN}, null, excluded));
        assertEquals(1, u.contributors());
        assertArrayEquals(new float[] {2f}, u.meanParameters());
        assertEquals(List.of(0, 1), u.reports().stream().map(WorkerReport::worker).toList());
    }

    private static RoundUpdate update(float[] params, int worker) {
        StepMetrics step = new StepMetrics(1.0, Map.of(), 1e-3, 1.0, 10, true, List.of());
        return RoundUpdate.ofWorker(params, null, new WorkerReport(worker, 0, "cpu", "cpu", List.of(step), new double[] {0.1}, "s", false, 0.1,
                java.util.Map.of(), null));
    }
}
