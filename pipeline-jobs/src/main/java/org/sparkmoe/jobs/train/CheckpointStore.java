package org.sparkmoe.jobs.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
 *
 * <p>With {@code sync=driver} the driver writes everything ({@link #save}); when the workers synchronise among
 * themselves the driver {@link #begin}s the checkpoint, the workers write the vectors they hold into its staging
 * directory (rank 0 the parameters and outer state, each worker its own optimiser state), and the driver
 * {@link #publish}es it once the round's stage has succeeded. Both write the same files, so either path resumes the other's checkpoints.
 */
public final class CheckpointStore {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** A complete checkpoint's name; the staging directories of {@link AtomicPublish} are hidden ({@code .round-...}). */
    private static final Pattern NAME = Pattern.compile("round-(\\d+)");
    static final String PARAMETERS = "parameters.f32";
    static final String OUTER_OPTIMIZER = "outer-optimizer.f32";
    private static final String OPTIMIZER_AVERAGE = "optimizer-average.f32";
    private static final String STATE = "state.json";

    /**
     * What a checkpoint's {@code state.json} says, checked against the run's configuration.
     *
     * @param completedRounds rounds done; the next round to run has this index
     * @param tokens          tokens trained on so far, all workers together
     * @param readerStates    per worker, where its data stream stands (null entries: at the start)
     */
    public record Meta(int completedRounds, long tokens, String[] readerStates) {}

    private final RunDirectory run;
    private final FileSystem fs;

    public CheckpointStore(RunDirectory run) throws IOException {
        this.run = run;
        this.fs = run.fileSystem();
    }

    /** Saves the state after {@code state.completedRounds()} rounds; returns the published directory. */
    public Path save(ResumeState state, String outerOptimizer, int workers, String tokenizerHash) throws IOException {
        try (AtomicPublish publish = begin(state.completedRounds())) {
            Path staging = publish.staging();
            VectorFiles.write(fs, new Path(staging, PARAMETERS), state.params_P());
            VectorFiles.write(fs, new Path(staging, OUTER_OPTIMIZER), state.outerState());
            if (state.averagedOptimizerState() != null) {
                VectorFiles.write(fs, new Path(staging, OPTIMIZER_AVERAGE), state.averagedOptimizerState());
            }
            for (int w = 0; w < workers; w++) {
                Path source = RunDirectory.workerStateFile(new Path(state.workerStatesDir()), w);
                FileUtil.copy(fs, source, fs, RunDirectory.workerStateFile(staging, w), false, fs.getConf());
            }
            return publish(publish, new Meta(state.completedRounds(), state.tokens(), state.readerStates()),
                    state.params_P().length, outerOptimizer, workers, tokenizerHash);
        }
    }

    /**
     * Begins the checkpoint after {@code completedRounds} rounds: its files are written into the hidden
     * {@link AtomicPublish#staging()} directory (made here), and {@link #publish} completes it.
     */
    public AtomicPublish begin(int completedRounds) throws IOException {
        AtomicPublish publish = AtomicPublish.begin(fs, run.checkpoint(completedRounds));
        fs.mkdirs(publish.staging());
        return publish;
    }

    /** Writes {@code state.json} beside the files in {@code publish}'s staging directory and publishes it as {@code round-R}. */
    public Path publish(AtomicPublish publish, Meta meta, long parameterCount, String outerOptimizer, int workers,
                        String tokenizerHash) throws IOException {
        ObjectNode state = JSON.createObjectNode()
                .put("completed_rounds", meta.completedRounds())
                .put("tokens", meta.tokens())
                .put("parameter_count", parameterCount)
                .put("outer_optimizer", outerOptimizer)
                .put("workers", workers)
                .put("tokenizer_sha256", tokenizerHash);
        state.putPOJO("reader_states", meta.readerStates());
        VectorFiles.writeText(fs, new Path(publish.staging(), STATE),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state));
        publish.commit();
        return publish.target();
    }

    /** The newest complete checkpoint, if any. */
    public Optional<Path> latest() throws IOException {
        SortedMap<Integer, Path> complete = complete();
        return complete.isEmpty() ? Optional.empty() : Optional.of(complete.get(complete.lastKey()));
    }

    /** The complete checkpoints by the rounds they follow, oldest first (staging directories are not listed). */
    public SortedMap<Integer, Path> complete() throws IOException {
        SortedMap<Integer, Path> out = new TreeMap<>();
        if (!fs.exists(run.checkpoints())) {
            return out;
        }
        for (FileStatus status : fs.listStatus(run.checkpoints())) {
            Matcher name = NAME.matcher(status.getPath().getName());
            if (status.isDirectory() && name.matches()) {
                out.put(Integer.parseInt(name.group(1)), status.getPath());
            }
        }
        return out;
    }

    /** Deletes a checkpoint ({@link CheckpointRetention} decides which). */
    void delete(Path checkpoint) throws IOException {
        if (!fs.delete(checkpoint, true) && fs.exists(checkpoint)) {
            throw new IOException("could not delete checkpoint " + checkpoint + ": check the run directory's"
                    + " permissions");
        }
    }

    /** A checkpoint's global parameters ({@link VectorFiles} format). */
    public static Path parameters(Path checkpoint) {
        return new Path(checkpoint, PARAMETERS);
    }

    /** The tokens trained on (all workers together) when the checkpoint was written, from its {@code state.json}. */
    public long tokens(Path checkpoint) throws IOException {
        return JSON.readTree(VectorFiles.readText(fs, new Path(checkpoint, STATE))).path("tokens").asLong();
    }

    /**
     * Reads a checkpoint's {@code state.json} and checks it against the run's configuration; a mismatch stops with a
     * message that names the checkpoint and the differing setting.
     */
    public Meta readMeta(Path checkpoint, long parameterCount, String outerOptimizer, int workers, String tokenizerHash)
            throws IOException {
        JsonNode meta = JSON.readTree(VectorFiles.readText(fs, new Path(checkpoint, STATE)));
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
        return new Meta(meta.path("completed_rounds").asInt(), meta.path("tokens").asLong(), readerStates);
    }

    /** {@link #readMeta} and the checkpoint's vectors: what the driver path resumes from. */
    public ResumeState load(Path checkpoint, long parameterCount, String outerOptimizer, int workers, String tokenizerHash)
            throws IOException {
        Meta meta = readMeta(checkpoint, parameterCount, outerOptimizer, workers, tokenizerHash);
        Path averaged = new Path(checkpoint, OPTIMIZER_AVERAGE);
        return new ResumeState(meta.completedRounds(), meta.tokens(),
                VectorFiles.read(fs, new Path(checkpoint, PARAMETERS)),
                VectorFiles.read(fs, new Path(checkpoint, OUTER_OPTIMIZER)),
                fs.exists(averaged) ? VectorFiles.read(fs, averaged) : null,
                meta.readerStates(),
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
