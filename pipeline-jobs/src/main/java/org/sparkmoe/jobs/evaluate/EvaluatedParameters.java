package org.sparkmoe.jobs.evaluate;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.SortedMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.train.CheckpointStore;
import org.sparkmoe.jobs.train.RunDirectory;
import org.sparkmoe.jobs.train.ValidationHistory;

/**
 * The parameters evaluate scores (option {@code parameters}): the run's {@code final} ones, or a checkpoint's: the one
 * whose round scored the lowest validation loss during training ({@code best}, among the checkpoints present) or a
 * named one ({@code round-R} or {@code R}). The final parameters' evaluation goes to {@code evaluation/}, a
 * checkpoint's to {@code evaluation-round-R/}, so each keeps its own.
 *
 * @param selectedBy             {@code final}, {@code best} or {@code round}
 * @param source                 {@code final}, or the checkpoint within the run ({@code checkpoints/round-000017})
 * @param round                  rounds completed when the checkpoint was written (0 for the final parameters)
 * @param tokens                 tokens trained on by then (-1 for the final parameters)
 * @param trainingValidationLoss the validation loss train recorded for these parameters; NaN when it recorded none
 * @param parameters             the parameter file ({@code VectorFiles} format)
 * @param output                 where the evaluation is written
 */
record EvaluatedParameters(String selectedBy, String source, int round, long tokens,
                           double trainingValidationLoss, Path parameters, Path output) {

    static final String FINAL = "final";
    static final String BEST = "best";
    private static final Pattern ROUND = Pattern.compile("(?:round-)?(\\d{1,9})");

    /** What {@code parameters} may be, for the option's error message. */
    static final String EXPECTED = "final, best, or a checkpoint's round as round-R or R (round-000017, 17)";

    static boolean valid(String setting) {
        return setting.equals(FINAL) || setting.equals(BEST) || ROUND.matcher(setting).matches();
    }

    /** The parameters {@code setting} selects in {@code run}; a usage error naming the run says what is missing. */
    static EvaluatedParameters resolve(RunDirectory run, String setting) throws IOException {
        if (setting.equals(FINAL)) {
            if (!run.fileSystem().exists(run.finalParameters())) {
                throw new UsageException("run " + run.uri() + " has no final/parameters.f32: it has not finished;"
                        + " evaluate a checkpoint (--parameters best or round-R), or finish it with sparkmoe train"
                        + " --resume true");
            }
            return new EvaluatedParameters(FINAL, FINAL, 0, -1, Double.NaN, run.finalParameters(),
                    run.evaluation());
        }
        CheckpointStore store = new CheckpointStore(run);
        SortedMap<Integer, Path> present = store.complete();
        ValidationHistory validation = ValidationHistory.read(run);
        int round;
        if (setting.equals(BEST)) {
            if (validation.isEmpty()) {
                throw new UsageException("run " + run.uri() + " recorded no validation loss (metrics/rounds.jsonl), so"
                        + " no checkpoint is the best: train with --validate-every 1 (sync=barrier or data-parallel),"
                        + " or evaluate --parameters final or round-R");
            }
            OptionalInt lowest = validation.lowest(present.keySet());
            if (lowest.isEmpty()) {
                throw new UsageException("run " + run.uri() + ": no checkpoint of a validated round is left"
                        + " (checkpoints: " + names(present) + "; validated after rounds " + validation.rounds()
                        + "): train with --checkpoint-every 1 --keep-checkpoints N, or evaluate --parameters round-R");
            }
            round = lowest.getAsInt();
        } else {
            Matcher m = ROUND.matcher(setting);
            if (!m.matches()) {
                throw new UsageException("option parameters=" + setting + " is invalid: it must be " + EXPECTED);
            }
            round = Integer.parseInt(m.group(1));
            if (!present.containsKey(round)) {
                throw new UsageException("run " + run.uri() + ": checkpoint " + run.checkpoint(round).getName()
                        + " does not exist; present: " + names(present) + " (checkpoint-every and keep-checkpoints"
                        + " decide which are written and kept): give one of them with --parameters");
            }
        }
        Path checkpoint = present.get(round);
        return new EvaluatedParameters(setting.equals(BEST) ? BEST : "round",
                run.checkpoints().getName() + "/" + checkpoint.getName(), round, store.tokens(checkpoint),
                validation.lossAfter(round).orElse(Double.NaN), CheckpointStore.parameters(checkpoint),
                run.evaluation(checkpoint));
    }

    private static String names(SortedMap<Integer, Path> checkpoints) {
        return checkpoints.isEmpty() ? "none"
                : String.join(", ", checkpoints.values().stream().map(Path::getName).toList());
    }

    /** The {@code parameters} section of {@code evaluation.json}; what does not apply is left out. */
    ObjectNode json(ObjectMapper mapper) {
        ObjectNode out = mapper.createObjectNode().put("source", source).put("selected_by", selectedBy);
        if (round > 0) {
            out.put("round", round).put("tokens", tokens);
        }
        if (Double.isFinite(trainingValidationLoss)) {
            out.put("training_validation_loss", trainingValidationLoss);
        }
        return out;
    }

    /** The evaluate command line that writes this selection's evaluation of {@code run}. */
    static String command(String run, String setting) {
        return "sparkmoe evaluate --run " + run + (setting.equals(FINAL) ? "" : " --parameters " + setting);
    }

    /** A short description for the console: {@code checkpoints/round-000017 (best: ...)}. */
    String describe() {
        if (selectedBy.equals(FINAL)) {
            return "the final parameters";
        }
        return String.format(Locale.ROOT, "%s (after round %d, %,d tokens%s)", source, round, tokens,
                selectedBy.equals(BEST) ? String.format(Locale.ROOT, "; the lowest validation loss during training,"
                        + " %.4f", trainingValidationLoss) : "");
    }
}
