package org.sparkmoe.jobs.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.model.ModelSpec;
import org.sparkmoe.jobs.spark.GpuScheduling;
import org.sparkmoe.jobs.spark.SparkSessions;

/**
 * {@code sparkmoe train}: trains the MoE model by parameter averaging on Spark executors ({@link RoundRunner}),
 * logging metrics, checkpoints and the final model to the run directory. docs/training.md has spark-submit examples.
 */
public final class TrainJob implements Job {

    @Override
    public String name() {
        return "train";
    }

    @Override
    public String summary() {
        return "train the MoE model on token shards by parameter averaging or DiLoCo over Spark tasks";
    }

    /** Model config keys ({@code --num_hidden_layers 4}) override the chosen preset's values. */
    @Override
    public Set<String> overrideKeys() {
        return ModelSpec.KEYS;
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        TrainSettings train = TrainSettings.from(settings);
        SparkSession spark = SparkSessions.forJob(settings);
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        ShardTrainingData data;
        try {
            data = ShardTrainingData.open(train.manifest(), train.seed(), settings.bool("verify-shards"), hadoop);
        } catch (FileNotFoundException e) {
            throw new UsageException("manifest " + train.manifest() + " not found: give the manifest.json (or the dataset"
                    + " directory) that the tokenize job wrote", e);
        }
        String tokenizerHash = data.tokenizerHash();
        if (settings.has("tokenizer")) {
            Path manifest = new Path(data.manifestUri());
            tokenizerHash = Manifest.read(manifest.getFileSystem(hadoop), manifest)
                    .requireTokenizer(settings.string("tokenizer"), hadoop, data.manifestUri()).sha256();
        }
        EngineTrainerFactory engine = EngineTrainerFactory.fromSettings(settings, train, tokenizerHash, hadoop);
        RunDirectory run = RunDirectory.under(train.runsRoot(), train.runId(), hadoop);
        if (train.resume()) {
            requireSameModel(run, engine);
        }
        TrainResult result;
        try (GpuScheduling.Watch watch = GpuScheduling.watch(spark.sparkContext(), GpuScheduling.waitSetting(settings))) {
            result = new RoundRunner(spark, train, engine, data, run, settings.asMap()).run();
        }
        System.out.printf("trained %d rounds; final loss %.4f; run directory %s%n", result.rounds().size(),
                result.rounds().isEmpty() ? Double.NaN : result.rounds().getLast().loss(), run.uri());
        return 0;
    }

    /**
     * A resumed run continues the model it started: the model config recorded in its {@code model.json} (preset
     * plus overrides) must be the one this command line gives.
     */
    private static void requireSameModel(RunDirectory run, EngineTrainerFactory engine) throws IOException {
        FileSystem fs = run.fileSystem();
        if (!fs.exists(run.modelConfig())) {
            return;
        }
        JsonNode recorded = new ObjectMapper().readTree(VectorFiles.readText(fs, run.modelConfig())).path("model_config");
        Map<String, String> differences = new TreeMap<>();
        for (String key : engine.modelProps().stringPropertyNames()) {
            String now = engine.modelProps().getProperty(key).strip();
            String then = recorded.path(key).asText("<missing>").strip();
            if (!now.equals(then)) {
                differences.put(key, then + " (this command: " + now + ")");
            }
        }
        if (!differences.isEmpty()) {
            throw new UsageException("--resume: run " + run.uri() + " trains another model: its model.json has "
                    + differences + "; resume with the --model and model config overrides the run started with"
                    + " (its config.properties lists them)");
        }
    }
}
