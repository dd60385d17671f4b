package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.testing.LocalCluster;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.model.backend.cuda.CudaDevice;
import org.sparkmoe.model.backend.cuda.CudaException;
import org.sparkmoe.model.backend.cuda.DeviceSelection;

/**
 * The barrier stage on a GPU: Spark's {@code local-cluster[1,1,4096]} ({@link LocalCluster}) whose one worker owns
 * GPU 0 (a one-address discovery script), so its task is bound to CUDA device 0 through Spark's resource scheduling;
 * the real {@code tiny} engine on the CUDA backend ({@code backend=cuda}, fp32 GEMMs), the workers' collective an
 * NCCL communicator of one rank. {@code sync=barrier} and {@code sync=data-parallel} end with the driver path's
 * parameters bit for bit (one rank's sum and mean are its own values). Skipped without a GPU. Run with
 * {@code NCCL_NVLS_ENABLE=0} and NCCL on {@code SPARKMOE_CUDA_LIB_PATH} (the executor inherits the environment).
 */
class BarrierCudaTest {

    @TempDir
    java.nio.file.Path work;

    @Test
    void oneTaskOnCudaWithAOneRankNcclCollectiveTrainsAsTheDriverPathDoes() throws Exception {
        try (CudaDevice device = CudaDevice.open(new DeviceSelection(0, "BarrierCudaTest"))) {
            System.out.println("GPU: " + device.info().name());
        } catch (CudaException | IllegalArgumentException e) {
            assumeTrue(false, "no GPU, GPU test skipped: " + e.getMessage());
        }
        java.nio.file.Path script = work.resolve("gpu0.sh");
        java.nio.file.Files.writeString(script, "#!/usr/bin/env bash\necho '{\"name\":\"gpu\",\"addresses\":[\"0\"]}'\n");
        assertTrue(script.toFile().setExecutable(true));
        try (LocalCluster cluster = new LocalCluster()) {
            SparkSession spark = cluster.start(1, 1, 4096, Map.of(
                    "spark.worker.resource.gpu.amount", "1",
                    "spark.worker.resource.gpu.discoveryScript", script.toString(),
                    "spark.executor.resource.gpu.amount", "1",
                    "spark.task.resource.gpu.amount", "1"));
            FileSystem fs = FileSystem.getLocal(new org.apache.hadoop.conf.Configuration());
            String manifest = ByteShards.write(fs, new Path(work.resolve("data").toUri()),
                    SharedData.trainCorpus().resolve("en_wikitext.jsonl"), 40, 1, -1, 1);
            ShardTrainingData data = ShardTrainingData.open(manifest, 7, true, fs.getConf());
            String runs = work.resolve("runs").toUri().toString();
            float[] driver = train(spark, data, manifest, runs, "cuda-driver", "driver");
            for (String sync : List.of("barrier", "data-parallel")) {
                assertArrayEquals(driver, train(spark, data, manifest, runs, "cuda-" + sync, sync), sync);
                String steps = VectorFiles.readText(fs, new Path(runs, "cuda-" + sync + "/metrics/steps.jsonl"));
                assertTrue(steps.contains("\"device\":\"cuda:0\"") && steps.contains("\"backend\":\"cuda ("), steps);
            }
            assertTrue(cluster.executorLogs().contains("joined nccl collective (rank 0 of 1"),
                    "the task's collective is NCCL");
        }
    }

    private static float[] train(SparkSession spark, ShardTrainingData data, String manifest, String runs, String runId,
                                 String sync) throws IOException {
        List<String> args = List.of("--manifest", manifest, "--runs", runs, "--run-id", runId, "--model", "tiny",
                "--workers", "1", "--local-steps", "3", "--rounds", "3", "--batch-size", "4", "--seq-len", "32",
                "--outer-optimizer", "average", "--backend", "cuda", "--cuda-gemm-precision", "fp32", "--sync", sync,
                "--engine.micro-batch", "2", "--engine.warmup-steps", "1");
        JobSettings settings = JobSettings.resolve(new TrainJob(), args);
        TrainSettings train = TrainSettings.from(settings);
        EngineTrainerFactory tiny = EngineTrainerFactory.fromSettings(settings, train, ByteShards.TOKENIZER_SHA,
                new org.apache.hadoop.conf.Configuration());
        RunDirectory run = RunDirectory.under(runs, runId, new org.apache.hadoop.conf.Configuration());
        new RoundRunner(spark, train, tiny, data, run, settings.asMap()).run();
        return VectorFiles.read(run.fileSystem(), run.finalParameters());
    }
}
