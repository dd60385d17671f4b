package org.sparkmoe.jobs.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Arrays;
import java.util.Optional;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.AtomicPublish;

/**
 * Checkpoints under {@code checkpoints/round-R/}, published atomically ({@link AtomicPublish}): everything is
 * written into a hidden staging directory which is then renamed, so a directory named {@code round-R} is always
 * complete.
 *
 * <p>Contents: {@code parameters.f32}, {@code outer-optimizer.f32}, {@code optimizer-average.f32} (only when inner
 * states are averaged), {@code worker-W.f32} (each worker's inner optimiser state) and {@code state.json} (round,
 * tokens, reader states, and the shape facts a resume checks against its config).
 */
public final class CheckpointStore {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PREFIX = "round-";

    private final RunDirectory run;
    private final FileSystem fs;

    public CheckpointStore(RunDirectory run) throws IOException {
        this.run = run;
        this.fs = run.fileSystem();
    }

    /** Saves the state after {@code state.completedRounds()} rounds; returns the published directory. */
    public Path save(ResumeState state, String outerOptimizer, int workers, String tokenizerHash) throws IOException {
        Path target = new Path(run.checkpoints(), String.format(PREFIX + "%06d", state.completedRounds()));
        try (AtomicPublish publish = AtomicPublish.begin(fs, target)) {
            Path staging = publish.staging();
            fs.mkdirs(staging);
            VectorFiles.write(fs, new Path(staging, "parameters.f32"), state.params_P());
            VectorFiles.write(fs, new Path(staging, "outer-optimizer.f32"), state.outerState());
            if (state.averagedOptimizerState() != null) {
                VectorFiles.write(fs, new Path(staging, "optimizer-average.f32"), state.averagedOptimizerState());
            }
            for (int w = 0; w < workers; w++) {
                Path source = RunDirectory.workerStateFile(new Path(state.workerStatesDir()), w);
                FileUtil.copy(fs, source, fs, RunDirectory.workerStateFile(staging, w), false, fs.getConf());
            }
            ObjectNode meta = JSON.createObjectNode()
                    .put("completed_rounds", state.completedRounds())
                    .put("tokens", state.tokens())
                    .put("parameter_count", state.params_P().length)
                    .put("outer_optimizer", outerOptimizer)
                    .put("workers", workers)
                    .put("tokenizer_sha256", tokenizerHash);
            meta.putPOJO("reader_states", state.readerStates());
            VectorFiles.writeText(fs, new Path(staging, "state.json"),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(meta));
            publish.commit();
            return publish.target();
        }
    }

    /** The newest complete checkpoint, if any. */
    public Optional<Path> latest() throws IOException {
        if (!fs.exists(run.checkpoints())) {
            return Optional.empty();
        }
        return Arrays.stream(fs.listStatus(run.checkpoints()))
                .filter(FileStatus::isDirectory)
                .map(FileStatus::getPath)
                .filter(p -> p.getName().startsWith(PREFIX))
                .max((a, b) -> a.getName().compareTo(b.getName()));
    }

    /**
     * Loads a checkpoint and checks it against the run's configuration; a mismatch stops with a message that names
     * the checkpoint and the differing setting.
     */
    public ResumeState load(Path checkpoint, int parameterCount, String outerOptimizer, int workers, String tokenizerHash)
            throws IOException {
        JsonNode meta = JSON.readTree(VectorFiles.readText(fs, new Path(checkpoint, "state.json")));
        mustMatch(checkpoint, "parameter count (model config)", meta.path("parameter_count").asLong(), parameterCount);
        mustMatch(checkpoint, "workers", meta.path("workers").asInt(), workers);
        if (!meta.path("outer_optimizer").asText().equals(outerOptimizer)) {
            throw new IllegalArgumentException("checkpoint " + checkpoint + " was written with outer-optimizer="
                    + meta.path("outer_optimizer").asText() + " but this run is configured with " + outerOptimizer
                    + ": resume with the run's own config (see its config.properties)");
        }
        if (!meta.path("tokenizer_sha256").asText().equals(tokenizerHash)) {
            throw new IllegalArgumentException("checkpoint " + checkpoint + " was trained on tokenizer "
                    + meta.path("tokenizer_sha256").asText() + " but this run's model and dataset use " + tokenizerHash
                    + ": resume with the dataset (and tokenizer) the run started with");
        }
        String[] readerStates = new String[workers];
        for (int w = 0; w < workers; w++) {
            JsonNode reader = meta.path("reader_states").path(w);
            readerStates[w] = reader.isTextual() ? reader.asText() : null;
        }
        Path averaged = new Path(checkpoint, "optimizer-average.f32");
        return new ResumeState(
                meta.path("completed_rounds").asInt(),
                meta.path("tokens").asLong(),
                VectorFiles.read(fs, new Path(checkpoint, "parameters.f32")),
                VectorFiles.read(fs, new Path(checkpoint, "outer-optimizer.f32")),
                fs.exists(averaged) ? VectorFiles.read(fs, averaged) : null,
                readerStates,
                checkpoint.toString());
    }

    private static void mustMatch(Path checkpoint, String what, long found, long configured) {
        if (found != configured) {
            throw new IllegalArgumentException("checkpoint " + checkpoint + " does not match the config: its " + what
                    + " is " + found + " but the run is configured for " + configured
                    + "; resume with the config the run started with (its config.properties) or start a new run-id");
        }
    }
}
