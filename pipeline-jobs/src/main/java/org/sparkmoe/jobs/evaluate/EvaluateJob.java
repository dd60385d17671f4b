package org.sparkmoe.jobs.evaluate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.charts.Charts;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.spark.GpuScheduling;
import org.sparkmoe.jobs.spark.JobProgress;
import org.sparkmoe.jobs.spark.SparkSessions;
import org.sparkmoe.jobs.tokenizer.TokenizerJson;
import org.sparkmoe.jobs.train.EngineDevice;
import org.sparkmoe.jobs.train.EngineTrainerFactory;
import org.sparkmoe.jobs.train.RunDirectory;
import org.sparkmoe.jobs.train.StepMetrics;
import org.sparkmoe.jobs.train.TrainSettings;
import org.sparkmoe.jobs.train.VectorFiles;
import org.sparkmoe.model.config.ModelConfig;

/**
 * {@code sparkmoe evaluate}: scores a run's parameters on validation shards (loss, perplexity, bits per byte,
 * per-layer expert load, the paper's specialisation analyses) and draws the run's curves, into
 * {@code <run>/evaluation/} (the final parameters) or {@code <run>/evaluation-round-R/} (a checkpoint's, option
 * {@code parameters}: {@link EvaluatedParameters}): {@code evaluation.json}, {@code loss-curve.png},
 * {@code expert-load-layer-L.png} (training rounds), {@code validation-expert-load.png}, {@code specialisation-*.png}
 * ({@link SpecialisationAnalysis}) and {@code index.html}, the page that shows them all with the tables
 * ({@link EvaluationPage}).
 */
public final class EvaluateJob implements Job {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String name() {
        return "evaluate";
    }

    @Override
    public String summary() {
        return "validation loss, perplexity, bits per byte and expert load of a train run, with PNG plots";
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        Charts.requireFonts("evaluate");
        SparkSession spark = SparkSessions.forJob(settings);
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Path root = new Path(settings.string("run"));
        FileSystem fs = root.getFileSystem(hadoop);
        RunDirectory run = new RunDirectory(fs.makeQualified(root).toString());
        if (!fs.exists(run.resolvedConfig())) {
            throw new UsageException("run directory " + run.uri() + " has no config.properties: give the run directory"
                    + " of a train run (<runs>/<run-id>)");
        }
        String selection = settings.string("parameters");
        settings.require(EvaluatedParameters.valid(selection), "parameters", EvaluatedParameters.EXPECTED);
        EvaluatedParameters evaluated = EvaluatedParameters.resolve(run, selection);
        Path out = evaluated.output();
        JobSettings trainSettings = run.readResolvedConfig(fs);
        TrainSettings train = TrainSettings.from(trainSettings);
        JsonNode model = JSON.readTree(VectorFiles.readText(fs, run.modelConfig()));
        EngineTrainerFactory engine = EngineTrainerFactory.fromSettings(trainSettings, train,
                model.path("tokenizer_sha256").asText(), hadoop)
                .on(EngineDevice.fromSettings(settings, "evaluation of " + run.uri()));

        String manifest = settings.string("manifest", train.manifest());
        int seqLen = settings.has("seq-len") ? settings.integer("seq-len") : train.seqLen();
        settings.require(settings.integer("sequences") >= 1, "sequences", "at least 1");
        settings.require(settings.integer("batch-size") >= 1, "batch-size", "at least 1");
        String tokenizerPath = settings.string("tokenizer", trainSettings.string("tokenizer", ""));
        Path manifestPath = new Path(manifest);
        TokenizerJson tokenizerJson = tokenizerPath.isEmpty() ? null : Manifest.read(manifestPath.getFileSystem(hadoop),
                manifestPath).requireTokenizer(tokenizerPath, hadoop, manifest);

        SpecialisationAnalysis.ComparedRun compared = settings.has("compare-run")
                ? comparedRun(fs, settings.string("compare-run"), selection) : null;
        ModelConfig modelConfig = engine.modelConfig();
        SpecialisationAnalysis specialisation = SpecialisationAnalysis.plan(modelConfig, shares(settings),
                activatedExperts(settings, modelConfig), settings.bool("shared-expert-analysis"));

        try (JobProgress progress = JobProgress.steps(spark, "evaluate", 2)) {
            progress.begin("score the " + settings.string("split") + " split with " + evaluated.describe()
                    + (specialisation.ablations().isEmpty() ? "" : " and " + specialisation.ablations().size()
                            + " routing ablations"));
            float[] params_P = VectorFiles.read(fs, evaluated.parameters());
            ValidationResult v;
            try (GpuScheduling.Watch watch = GpuScheduling.watch(spark.sparkContext(),
                    GpuScheduling.waitSetting(settings))) {
                v = ValidationPass.run(spark, engine, params_P, manifest, settings.string("split"), seqLen,
                        settings.longValue("sequences"), settings.integer("batch-size"), tokenizerJson,
                        specialisation.ablations());
            }
            progress.done(String.format("%,d sequences, loss %.4f", v.sequences(), v.loss()));
            progress.begin("figures, evaluation.json and index.html");

            ObjectNode report = JSON.createObjectNode();
            report.set("parameters", evaluated.json(JSON));
            ObjectNode validation = report.putObject("validation")
                    .put("manifest", manifest)
                    .put("split", settings.string("split"))
                    .put("seq_len", seqLen)
                    .put("sequences", v.sequences())
                    .put("targets", v.targets())
                    .put("loss", v.loss())
                    .put("perplexity", v.perplexity());
            if (tokenizerJson == null) {
                validation.putNull("bits_per_byte");
                validation.put("bits_per_byte_note", "no tokenizer given: pass --tokenizer to count text bytes");
            } else {
                validation.put("bits_per_byte", v.bitsPerByte()).put("target_bytes", v.targetBytes());
            }
            ArrayNode load = report.putArray("validation_expert_load");
            double[][] load_LE = new double[v.load_LE() == null ? 0 : v.load_LE().length][];
            List<String> layerNames = new ArrayList<>();
            for (int l = 0; l < load_LE.length; l++) {
                StepMetrics.LayerRouting layer = new StepMetrics.LayerRouting(v.moeLayers()[l], v.load_LE()[l],
                        Double.NaN);
                ObjectNode node = load.addObject().put("layer", layer.layer()).put("load_cv", layer.loadCv());
                node.putPOJO("tokens_per_expert", layer.tokensPerExpert());
                load_LE[l] = java.util.Arrays.stream(layer.tokensPerExpert()).asDoubleStream().toArray();
                layerNames.add(Integer.toString(layer.layer()));
            }
            report.set("training", TrainingCurves.write(run, out));
            if (load_LE.length > 0) {
                TrainingCurves.writePng(fs, new Path(out, "validation-expert-load.png"),
                        Charts.heatmap("Validation tokens per routed expert", "routed expert",
                                TrainingCurves.numbers(0, load_LE[0].length), "MoE layer", layerNames, load_LE,
                                "tokens"));
                ((ArrayNode) report.path("training").path("plots")).add("validation-expert-load.png");
            }
            report.set("specialisation", specialisation.report(v, fs, out, root.getName(), compared));
            String json = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(report);
            VectorFiles.writeText(fs, new Path(out, "evaluation.json"), json);
            EvaluationPage.write(fs, out, root.getName(), JSON.readTree(json));
            progress.done(out.toString());
            System.out.printf("validation loss %.4f  perplexity %.2f  bits/byte %s  (%d sequences)  -> %s%n",
                    v.loss(), v.perplexity(), tokenizerJson == null ? "n/a" : String.format("%.4f", v.bitsPerByte()),
                    v.sequences(), new Path(out, EvaluationPage.FILE));
            System.out.print(specialisation.table(v));
        }
        return 0;
    }

    /**
     * The specialisation results of an evaluated run, read from the evaluation of the same {@code parameters}
     * selection in that run (best: its own best checkpoint; round-R: its round R), or a usage error saying what to
     * run first.
     */
    private static SpecialisationAnalysis.ComparedRun comparedRun(FileSystem fs, String dir, String selection)
            throws IOException {
        Path root = new Path(dir);
        FileSystem otherFs = root.getFileSystem(fs.getConf());
        RunDirectory other = new RunDirectory(otherFs.makeQualified(root).toString());
        Path evaluation;
        if (selection.equals(EvaluatedParameters.FINAL)) {
            evaluation = other.evaluation();
        } else {
            try {
                evaluation = EvaluatedParameters.resolve(other, selection).output();
            } catch (UsageException e) {
                throw new UsageException("compare-run " + dir + " with --parameters " + selection + ": "
                        + e.getMessage(), e);
            }
        }
        Path file = new Path(evaluation, "evaluation.json");
        JsonNode spec = otherFs.exists(file)
                ? JSON.readTree(VectorFiles.readText(otherFs, file)).path("specialisation")
                : JSON.missingNode();
        if (!spec.has("disabled_top_experts")) {
            throw new UsageException("compare-run " + dir + " has no specialisation results in " + evaluation.getName()
                    + "/evaluation.json: evaluate it first (" + EvaluatedParameters.command(dir, selection) + ")");
        }
        return new SpecialisationAnalysis.ComparedRun(root.getName(), other.uri(), spec);
    }

    /** {@code disable-top-shares}: fractions ({@code 1/16}) or decimals, each in [0, 1). */
    static List<Double> shares(JobSettings settings) {
        List<Double> shares = new ArrayList<>();
        for (String text : settings.list("disable-top-shares")) {
            double share;
            try {
                int slash = text.indexOf('/');
                share = slash < 0 ? Double.parseDouble(text)
                        : Double.parseDouble(text.substring(0, slash).strip())
                                / Double.parseDouble(text.substring(slash + 1).strip());
            } catch (NumberFormatException e) {
                share = Double.NaN;
            }
            settings.require(share >= 0 && share < 1, "disable-top-shares",
                    "a comma-separated list of shares in [0, 1) such as 0,1/16,1/8 ('" + text + "' is not one)");
            shares.add(share);
        }
        return shares;
    }

    /** {@code activated-experts}: counts >= 1, or {@code all} for 1..K of the model. */
    static List<Integer> activatedExperts(JobSettings settings, ModelConfig model) {
        List<String> texts = settings.list("activated-experts");
        if (texts.equals(List.of("all"))) {
            return IntStream.rangeClosed(1, model.numExpertsPerTok()).boxed().toList();
        }
        List<Integer> counts = new ArrayList<>();
        for (String text : texts) {
            int k;
            try {
                k = Integer.parseInt(text);
            } catch (NumberFormatException e) {
                k = 0;
            }
            settings.require(k >= 1, "activated-experts",
                    "'all' or a comma-separated list of counts >= 1 such as 1,2,3 ('" + text + "' is not one)");
            counts.add(k);
        }
        return counts;
    }
}
