package org.sparkmoe.jobs.shards;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * {@code sparkmoe inspect <manifest> [--sample N]}: a dataset version's summary and, with {@code --sample N}, the
 * first N packed sequences of epoch 0 (seed 0, one worker) decoded, special tokens shown, so a person can read what
 * the model will read. Needs no Spark.
 */
public final class InspectJob implements Job {

    @Override
    public String name() {
        return "inspect";
    }

    @Override
    public String summary() {
        return "print a token-shard dataset's summary and decode sample sequences";
    }

    @Override
    public Optional<String> positionalOption() {
        return Optional.of("manifest");
    }

    @Override
    public int run(JobSettings settings) throws IOException {
        int sample = settings.integer("sample");
        settings.require(sample >= 0, "sample", "0 or more");
        int seqLen = settings.integer("seq-len");
        settings.require(seqLen > 0, "seq-len", "positive");
        Configuration conf = JobHadoop.forJob(settings);
        Path manifestPath = new Path(settings.string("manifest"));
        Manifest manifest = Manifest.read(manifestPath.getFileSystem(conf), manifestPath);
        System.out.print(DatasetSummary.render(manifest));
        if (sample == 0) {
            return 0;
        }
        Tokenizer tokenizer = manifest.requireTokenizer(settings.string("tokenizer", manifest.tokenizer().path()), conf,
                manifestPath.toString()).tokenizer();
        try (TokenDataset dataset = TokenDataset.open(settings.string("manifest"), settings.string("split"), seqLen,
                conf, settings.bool("verify"))) {
            long n = Math.min(sample, dataset.sequenceCount());
            SequenceLoader loader = dataset.loader(0, 0, 1);
            int[] tokens = new int[seqLen + 1];
            for (long i = 0; i < n; i++) {
                int index = loader.nextIndex();
                dataset.readSequence(index, tokens, 0);
                System.out.printf(Locale.ROOT, "%n--- %s sequence %d of %d (%d tokens) ---%n%s%n", dataset.split(),
                        index, dataset.sequenceCount(), tokens.length, tokenizer.decode(tokens, false));
            }
        }
        return 0;
    }
}
