package org.sparkmoe.jobs.train.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.testing.LocalCluster;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.jobs.train.ByteShards;
import org.sparkmoe.jobs.train.EngineDevice;
import org.sparkmoe.jobs.train.MetricsLog;
import org.sparkmoe.jobs.train.RoundRunner;
import org.sparkmoe.jobs.train.RunDirectory;
import org.sparkmoe.jobs.train.ShardTrainingData;
import org.sparkmoe.jobs.train.TrainSettings;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * What synchronising W workers costs per round, against model size, for the driver path ({@code sync=driver}: a
 * broadcast of the parameters, W fp32 task results tree-aggregated in fp64 on the driver, each worker's optimiser
 * state written to and read from the run directory) and the barrier stage ({@code sync=barrier}: a TCP ring
 * all-reduce among the tasks, each keeping its state in executor memory). The trainer is {@link NoWorkTrainer}, which
 * does no training work, so a round's time is synchronisation, scheduling and state handling only; H = 1, plain
 * averaging, no checkpoint before the last round.
 *
 * <p>Spark {@code local-cluster[W,1,EXECUTOR_MB]} ({@link LocalCluster}): W executor JVMs on this machine, the run
 * directories on the local filesystem, the driver in this JVM (give it {@code -Xmx}). Each cell is the median round
 * time over rounds 2 .. R-1 (the first builds the trainers, the last writes the checkpoint and the final vector).
 *
 * <p>Anchor, measured in the same run: the TCP ring all-reduce alone, between W threads of this JVM over loopback
 * ({@code CpuBackend.joinCollective}, median of 3), so a barrier round's time splits into the all-reduce itself and
 * what Spark and the round's bookkeeping add.
 * Usage: {@code SyncOverheadBench W-list P-list(millions) ROUNDS EXECUTOR_MB [syncs]}, e.g.
 * {@code SyncOverheadBench 2,4 10,30,100 5 4608 driver,barrier}.
 */
public final class SyncOverheadBench {

    private static final ObjectMapper JSON = new ObjectMapper();

    private SyncOverheadBench() {}

    public static void main(String[] args) throws Exception {
        int[] ws = Arrays.stream(args[0].split(",")).mapToInt(Integer::parseInt).toArray();
        int[] millions = Arrays.stream(args[1].split(",")).mapToInt(Integer::parseInt).toArray();
        int rounds = Integer.parseInt(args[2]);
        int executorMb = Integer.parseInt(args[3]);
        String[] syncs = (args.length > 4 ? args[4] : "driver,barrier").split(",");
        if (rounds < 4) {
            throw new IllegalArgumentException("ROUNDS must be at least 4: rounds 2 .. R-1 are measured");
        }
        java.nio.file.Path work = Files.createTempDirectory("sparkmoe-sync-bench");
        FileSystem fs = FileSystem.getLocal(new Configuration());
        String manifest = ByteShards.write(fs, new Path(work.resolve("data").toUri()),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 80, 4, -1, 1);
        ShardTrainingData data = ShardTrainingData.open(manifest, 7, true, fs.getConf());
        String runs = work.resolve("runs").toUri().toString();

        System.out.printf("%n== seconds per round spent synchronising W workers (no-work trainer, H = 1, median of"
                + " rounds 2..%d), local-cluster[W,1,%d]%n", rounds - 1, executorMb);
        System.out.printf("%3s %8s %10s", "W", "P", "MB/vector");
        for (String sync : syncs) {
            System.out.printf(" %12s", sync + " s");
        }
        System.out.printf(" %16s %14s%n", syncs.length == 2 ? syncs[0] + "/" + syncs[1] : "", "ring alone s");
        for (int w : ws) {
            try (LocalCluster cluster = new LocalCluster()) {
                SparkSession spark = cluster.start(w, 1, executorMb, Map.of("spark.driver.maxResultSize", "0"));
                for (int m : millions) {
                    int parameters = m * 1_000_000;
                    double ring = ringAllReduceSeconds(w, parameters);
                    double[] seconds = new double[syncs.length];
                    for (int i = 0; i < syncs.length; i++) {
                        String runId = syncs[i] + "-w" + w + "-p" + m;
                        TrainSettings settings = new TrainSettings(manifest, "no-work", runs, runId, false, w, 1, rounds,
                                1, 16, "average", 0.7, 0.9, false, rounds, 2, 11, EngineDevice.cpu(runId), syncs[i],
                                120, 0, 512, 1, 0);
                        RunDirectory run = RunDirectory.under(runs, runId, fs.getConf());
                        new RoundRunner(spark, settings, new NoWorkTrainer.Factory(parameters, ByteShards.TOKENIZER_SHA,
                                ByteShards.VOCAB, 65), data, run, Map.of()).run();
                        seconds[i] = medianRoundSeconds(fs, run, rounds);
                        fs.delete(run.root(), true);
                        System.gc();
                    }
                    System.out.printf("%3d %7dM %10.0f", w, m, 4.0 * parameters / 1e6);
                    for (double s : seconds) {
                        System.out.printf(" %12.2f", s);
                    }
                    System.out.printf(seconds.length == 2 ? " %16.2f" : " %16s", seconds.length == 2 ? seconds[0] / seconds[1] : "");
                    System.out.printf(" %14.2f%n", ring);
                }
            }
        }
        fs.delete(new Path(work.toUri()), true);
    }

    /** The anchor: median seconds of 3 TCP ring all-reduces of {@code parameters} floats among W threads here. */
    private static double ringAllReduceSeconds(int workers, int parameters) throws Exception {
        String[] slots = new String[workers];
        CyclicBarrier meet = new CyclicBarrier(workers);
        ExecutorService threads = Executors.newFixedThreadPool(workers);
        try {
            List<Future<double[]>> ranks = new ArrayList<>();
            for (int r = 0; r < workers; r++) {
                int rank = r;
                ranks.add(threads.submit(() -> {
                    Rendezvous rendezvous = new Rendezvous() {
                        @Override
                        public String[] allGather(String message) {
                            try {
                                slots[rank] = message;
                                meet.await();
                                String[] all = slots.clone();
                                meet.await();
                                return all;
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        }

                        @Override
                        public String host() {
                            return "127.0.0.1";
                        }

                        @Override
                        public boolean cancelled() {
                            return false;
                        }
                    };
                    try (CpuBackend backend = new CpuBackend(1);
                         Collective collective = backend.joinCollective(rank, workers, rendezvous)) {
                        Tensor t = backend.allocate("anchor", DType.F32, parameters);
                        double[] times = new double[3];
                        for (int i = 0; i < times.length; i++) {
                            meet.await();
                            long started = System.nanoTime();
                            collective.allReduceSum(t);
                            times[i] = (System.nanoTime() - started) / 1e9;
                        }
                        return times;
                    }
                }));
            }
            double[] slowest = new double[3];
            for (Future<double[]> rank : ranks) {
                double[] times = rank.get();
                for (int i = 0; i < 3; i++) {
                    slowest[i] = Math.max(slowest[i], times[i]);
                }
            }
            Arrays.sort(slowest);
            return slowest[1];
        } finally {
            threads.shutdownNow();
        }
    }

    private static double medianRoundSeconds(FileSystem fs, RunDirectory run, int rounds) throws Exception {
        double[] v = MetricsLog.readLines(fs, run.roundMetrics()).stream()
                .map(line -> {
                    try {
                        return JSON.readTree(line);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                })
                .filter(l -> l.path("round").asInt() >= 1 && l.path("round").asInt() <= rounds - 2)
                .mapToDouble(l -> l.path("round_seconds").asDouble()).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
