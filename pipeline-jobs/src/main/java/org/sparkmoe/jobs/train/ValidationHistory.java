package org.sparkmoe.jobs.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.Collection;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.hadoop.fs.FileSystem;

/**
 * The validation losses a run recorded ({@code validate-every}), keyed by the rounds completed when the parameters
 * were scored: the line of round r (counted from 0) in {@code metrics/rounds.jsonl} scores the parameters after r + 1
 * rounds, the ones checkpoint {@code round-(r+1)} holds. Rounds without a finite {@code validation_loss} are absent.
 */
public final class ValidationHistory {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final SortedMap<Integer, Double> lossAfter = new TreeMap<>();

    private ValidationHistory() {}

    /** The losses {@code metrics/rounds.jsonl} holds for the rounds before {@code firstRound}; none when it is absent. */
    public static ValidationHistory read(RunDirectory run, int firstRound) throws IOException {
        ValidationHistory history = new ValidationHistory();
        FileSystem fs = run.fileSystem();
        if (!fs.exists(run.roundMetrics())) {
            return history;
        }
        for (String line : MetricsLog.readLines(fs, run.roundMetrics())) {
            JsonNode round = JSON.readTree(line);
            if (round.path("round").asInt() < firstRound) {
                history.add(round.path("round").asInt(), round.path("validation_loss"));
            }
        }
        return history;
    }

    /** Every loss {@code metrics/rounds.jsonl} holds. */
    public static ValidationHistory read(RunDirectory run) throws IOException {
        return read(run, Integer.MAX_VALUE);
    }

    /** Notes a round's validation, if it had one. */
    void add(RoundSummary summary) {
        if (summary.validation() != null && Double.isFinite(summary.validation().loss())) {
            lossAfter.put(summary.round() + 1, summary.validation().loss());
        }
    }

    private void add(int round, JsonNode loss) {
        // NaN is written as text, so only numbers count.
        if (loss.isNumber() && Double.isFinite(loss.asDouble())) {
            lossAfter.put(round + 1, loss.asDouble());
        }
    }

    /** True when no round was validated. */
    public boolean isEmpty() {
        return lossAfter.isEmpty();
    }

    /** The rounds completed at each validation, ascending. */
    public Set<Integer> rounds() {
        return lossAfter.keySet();
    }

    /** The validation loss of the parameters after {@code completedRounds} rounds, when they were scored. */
    public OptionalDouble lossAfter(int completedRounds) {
        Double loss = lossAfter.get(completedRounds);
        return loss == null ? OptionalDouble.empty() : OptionalDouble.of(loss);
    }

    /**
     * Among {@code completedRounds}, the one whose parameters scored the lowest validation loss (the earliest of equal
     * ones); empty when none of them was scored.
     */
    public OptionalInt lowest(Collection<Integer> completedRounds) {
        int best = -1;
        for (int round : new TreeSet<>(completedRounds)) {
            Double loss = lossAfter.get(round);
            if (loss != null && (best < 0 || loss < lossAfter.get(best))) {
                best = round;
            }
        }
        return best < 0 ? OptionalInt.empty() : OptionalInt.of(best);
    }
}
