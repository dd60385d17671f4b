package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.io.Serializable;
import org.apache.hadoop.conf.Configuration;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.TokenDataset;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.model.train.EvalMetrics;

/**
 * Validation during barrier training ({@code validate-every}): after the rounds it is due, every rank scores its share
 * of the first {@code sequences} sequences of the manifest's validation split with the round's parameters (the same
 * on every rank), reading them as {@code sparkmoe evaluate} does, so the last round's figure equals evaluate's on the
 * same sequences.
 *
 * @param manifestUri the dataset whose validation split is scored
 * @param every       validate after round r when (r + 1) % every == 0, and after the last round; 0: never
 * @param sequences   N, the sequences scored (the first ones of the split, at most {@code validation-sequences})
 * @param batchSize   sequences per forward
 * @param seqLen      context length; each sequence holds seqLen + 1 tokens
 */
record ValidationPlan(String manifestUri, int every, long sequences, int batchSize, int seqLen) implements Serializable {

    static final ValidationPlan OFF = new ValidationPlan(null, 0, 0, 1, 1);

    /** The plan of {@code settings}: counts the validation split's sequences once, refusing a split too short. */
    static ValidationPlan of(TrainSettings settings, Configuration conf) throws IOException {
        if (settings.validateEvery() == 0) {
            return OFF;
        }
        long available;
        try (TokenDataset dataset = TokenDataset.open(settings.manifest(), Manifest.VALIDATION, settings.seqLen(), conf,
                false)) {
            available = dataset.sequenceCount();
        }
        if (available == 0) {
            throw new UsageException("option validate-every=" + settings.validateEvery() + ": the validation split of "
                    + settings.manifest() + " holds no sequence of " + (settings.seqLen() + 1) + " tokens; train with"
                    + " validate-every=0, a shorter seq-len, or a dataset with a larger validation split");
        }
        return new ValidationPlan(settings.manifest(), settings.validateEvery(),
                Math.min(available, settings.validationSequences()), settings.validationBatchSize(), settings.seqLen());
    }

    /** Whether validation follows round {@code round} ({@code last}: the run's last round). */
    boolean dueAfter(int round, boolean last) {
        return every > 0 && ((round + 1) % every == 0 || last);
    }

    /** Rank {@code rank} of {@code workers} scores sequences {@code [N·rank/W, N·(rank+1)/W)}. */
    ValidationScore score(LocalTrainer trainer, int rank, int workers) throws IOException {
        long first = sequences * rank / workers;
        long end = sequences * (rank + 1) / workers;
        int row = seqLen + 1;
        double lossSum = 0;
        long tokens = 0;
        try (TokenDataset dataset = TokenDataset.open(manifestUri, Manifest.VALIDATION, seqLen, JobHadoop.current(),
                false)) {
            for (long s = first; s < end; s += batchSize) {
                int batch = (int) Math.min(batchSize, end - s);
                int[] batch_BT1 = new int[batch * row];
                for (int b = 0; b < batch; b++) {
                    dataset.readSequence(s + b, batch_BT1, b * row);
                }
                EvalMetrics m = trainer.evaluate(batch_BT1, batch, row);
                lossSum += m.loss() * m.tokens();
                tokens += m.tokens();
            }
        }
        return new ValidationScore(lossSum, tokens, end - first);
    }
}
