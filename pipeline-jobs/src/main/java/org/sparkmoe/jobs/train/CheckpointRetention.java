package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.SortedMap;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * {@code keep-checkpoints=N}: after each checkpoint is published, the checkpoints under {@code checkpoints/} are
 * deleted except the newest N and the one whose parameters scored the lowest validation loss ({@code validate-every};
 * the earliest of equal ones). The newest, which a resume and a barrier round's retry start from, always stays; a
 * checkpoint deleted once never becomes the lowest later, so the lowest over all checkpointed rounds stays. A resumed
 * run knows the validation losses of the rounds before it from {@code metrics/rounds.jsonl}. N = 0 keeps every
 * checkpoint. Both round protocols ({@link RoundRunner}, {@link BarrierRounds}) go through here.
 */
final class CheckpointRetention {

    private static final Logger LOG = LogManager.getLogger(CheckpointRetention.class);

    private final CheckpointStore store;
    private final int keep;
    private final ValidationHistory validation;

    private CheckpointRetention(CheckpointStore store, int keep, ValidationHistory validation) {
        this.store = store;
        this.keep = keep;
        this.validation = validation;
    }

    /** The retention of a run whose invocation starts at round {@code firstRound} (0 for a new run). */
    static CheckpointRetention of(TrainSettings settings, RunDirectory run, CheckpointStore store, int firstRound)
            throws IOException {
        // Lines of rounds from firstRound on belong to an interrupted attempt: those rounds run again.
        return new CheckpointRetention(store, settings.keepCheckpoints(),
                settings.keepCheckpoints() == 0 ? null : ValidationHistory.read(run, firstRound));
    }

    /** Notes a finished round's validation loss, if it had one. */
    void roundDone(RoundSummary summary) {
        if (validation != null) {
            validation.add(summary);
        }
    }

    /** Deletes the checkpoints the setting does not keep; call it after a checkpoint was published. */
    void prune() throws IOException {
        if (keep == 0) {
            return;
        }
        SortedMap<Integer, Path> present = store.complete();
        List<Integer> rounds = new ArrayList<>(present.keySet());
        List<Integer> newest = rounds.subList(Math.max(0, rounds.size() - keep), rounds.size());
        OptionalInt lowest = validation.lowest(rounds);
        boolean lowestOlder = lowest.isPresent() && !newest.contains(lowest.getAsInt());
        List<String> deleted = new ArrayList<>();
        for (Map.Entry<Integer, Path> checkpoint : present.entrySet()) {
            int round = checkpoint.getKey();
            if (!newest.contains(round) && !(lowestOlder && round == lowest.getAsInt())) {
                store.delete(checkpoint.getValue());
                deleted.add(checkpoint.getValue().getName());
            }
        }
        if (!deleted.isEmpty()) {
            LOG.info("keep-checkpoints={}: deleted {}; kept {} (newest){}", keep, String.join(", ", deleted),
                    String.join(", ", newest.stream().map(r -> present.get(r).getName()).toList()),
                    lowestOlder ? String.format(Locale.ROOT, " and %s (lowest validation loss, %.4f)",
                            present.get(lowest.getAsInt()).getName(),
                            validation.lossAfter(lowest.getAsInt()).getAsDouble()) : "");
        }
    }
}
