package org.sparkmoe.jobs.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.SparkMoeMain;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.train.EngineTrainerFactory;
import org.sparkmoe.jobs.train.TrainJob;
import org.sparkmoe.jobs.train.TrainSettings;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Path options take any Hadoop URI, opened with the job's Hadoop settings: here every path is a bare absolute path
 * and {@code spark.hadoop.fs.defaultFS} (a job setting, as {@code --spark.hadoop.*} or spark-submit's {@code --conf}
 * give it) puts it on a MiniDFSCluster, so a job that opened paths with a fresh Hadoop configuration would look on
 * the local disk and fail.
 */
class HadoopPathsTest {

    private static MiniHdfs hdfs;
    private static FileSystem fs;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        fs = hdfs.fileSystem();
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    private static void put(String path, byte[] bytes) throws Exception {
        try (OutputStream out = fs.create(new org.apache.hadoop.fs.Path(path), true)) {
            out.write(bytes);
        }
    }

    private static byte[] get(String path) throws Exception {
        try (InputStream in = fs.open(new org.apache.hadoop.fs.Path(path))) {
            return in.readAllBytes();
        }
    }

    @Test
    void scoreReadsACheckpointAndInputAndWritesItsResultsOnHdfs(@TempDir Path dir) throws Exception {
        Path checkpoint = dir.resolve("ckpt");
        try (TrainingEngine engine = TrainingEngine.create(ModelPresets.load("tiny"), TrainConfig.forInference(1),
                new CpuBackend(1), 5)) {
            Checkpoints.save(engine, checkpoint, Safetensors.Dtype.F32);
        }
        for (String name : List.of(Checkpoints.CONFIG, Checkpoints.MODEL)) {
            put("/models/tiny-5/" + name, Files.readAllBytes(checkpoint.resolve(name)));
        }
        List<String> lines = List.of("[1, 2, 3, 4, 5, 6, 7, 8]", "[9, 8, 7]");
        put("/data/seqs.jsonl", String.join("\n", lines).getBytes(StandardCharsets.UTF_8));
        Files.write(dir.resolve("seqs.jsonl"), lines);

        assertEquals(0, SparkMoeMain.run("score", "--checkpoint", "/models/tiny-5", "--input", "/data/seqs.jsonl",
                "--output", "/scores/out.jsonl", "--logits", "/scores/logits.safetensors", "--threads", "1",
                "--spark.hadoop.fs.defaultFS", hdfs.root()));
        assertEquals(0, SparkMoeMain.run("score", "--checkpoint", checkpoint.toString(), "--input",
                dir.resolve("seqs.jsonl").toString(), "--output", dir.resolve("out.jsonl").toString(), "--threads", "1"));
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> onHdfs = new ArrayList<>();
        for (String line : new String(get("/scores/out.jsonl"), StandardCharsets.UTF_8).strip().split("\n")) {
            onHdfs.add(json.readTree(line));
        }
        List<JsonNode> local = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("out.jsonl"))) {
            local.add(json.readTree(line));
        }
        assertEquals(2, onHdfs.size());
        assertEquals(local, onHdfs, "the same checkpoint and input score the same from HDFS");

        Path logits = dir.resolve("logits.safetensors");
        Files.write(logits, get("/scores/logits.safetensors"));
        Safetensors.Header header = Safetensors.readHeader(logits);
        assertEquals(8, header.entries().get("logits.1").shape()[0]);
        assertEquals(3, header.entries().get("logits.2").shape()[0]);
    }

    @Test
    void aModelFileOnHdfsIsReadByModelInfoAndByTrainWithTheJobsHadoopSettings() throws Exception {
        Properties model = new Properties();
        try (InputStream in = getClass().getClassLoader().getResourceAsStream("sparkmoe-conf/models/tiny.properties")) {
            model.load(in);
        }
        model.setProperty("num_hidden_layers", "3");
        model.setProperty("vocab_size", "300");
        java.io.StringWriter text = new java.io.StringWriter();
        model.store(text, "tiny with 3 layers and 300 ids");
        put("/models/tiny3.properties", text.toString().getBytes(StandardCharsets.UTF_8));

        String out = ModelJobsTest.captureStdout(() -> assertEquals(0, SparkMoeMain.run("model-info", "--model",
                "/models/tiny3.properties", "--json", "--spark.hadoop.fs.defaultFS", hdfs.root())));
        JsonNode info = new ObjectMapper().readTree(out);
        assertEquals(3, info.get("layers").asInt());

        JobSettings settings = JobSettings.resolve(new TrainJob(), List.of("--manifest", "/data/any", "--model",
                "/models/tiny3.properties", "--spark.hadoop.fs.defaultFS", hdfs.root()));
        EngineTrainerFactory factory = EngineTrainerFactory.fromSettings(settings, TrainSettings.from(settings),
                "sha", JobHadoop.forJob(settings));
        assertEquals(3, factory.modelConfig().numLayers());
        assertEquals(300, factory.vocabSize());
        assertTrue(factory.modelName().equals("/models/tiny3.properties"), factory.modelName());
    }
}
