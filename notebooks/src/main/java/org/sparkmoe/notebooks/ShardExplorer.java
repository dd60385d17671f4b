package org.sparkmoe.notebooks;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.sparkmoe.jobs.charts.Charts;
import org.sparkmoe.jobs.shards.Manifest;
import org.sparkmoe.jobs.shards.TokenDataset;

/**
 * A token shard dataset as the trainer will read it (notebook 1): its manifest's summary, tokens per language,
 * and packed sequences decoded back to text. Reads through the shards' own {@link TokenDataset} reader, any
 * Hadoop URI; decodes with the dataset's tokenizer ({@code tokenizer.json} named in the manifest), or
 * byte-level for a {@link ByteLevelDataset}.
 */
public final class ShardExplorer implements AutoCloseable {

    private final TokenDataset dataset;
    private final Function<int[], String> decoder;

    private ShardExplorer(TokenDataset dataset, Function<int[], String> decoder) {
        this.dataset = dataset;
        this.decoder = decoder;
    }

    /** One split ({@code train} or {@code validation}) of a manifest, packed into sequences of {@code seqLen}+1. */
    public static ShardExplorer open(String manifestUri, String split, int seqLen) throws IOException {
        Configuration conf = new Configuration();
        TokenDataset dataset = TokenDataset.open(manifestUri, split, seqLen, conf, false);
        String tokenizer = dataset.manifest().tokenizer().path();
        Function<int[], String> decoder = ByteLevelDataset.TOKENIZER.equals(tokenizer)
                ? ByteLevelDataset::decode
                : dataset.manifest().requireTokenizer(tokenizer, conf, manifestUri).tokenizer()::decode;
        return new ShardExplorer(dataset, decoder);
    }

    /** Version, tokenizer, shards, documents, tokens and sequences, as rows for a table. */
    public Map<String, Object> summary() {
        Manifest m = dataset.manifest();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("dataset version", m.datasetVersion());
        out.put("tokenizer", m.tokenizer().path() + " (vocab " + m.tokenizer().vocabSize() + ")");
        out.put("split", dataset.split());
        out.put("shards", m.split(dataset.split()).shards().size());
        out.put("documents", m.split(dataset.split()).documents());
        out.put("tokens", dataset.tokenCount());
        out.put("sequences of " + dataset.seqLen() + "+1", dataset.sequenceCount());
        return out;
    }

    public Map<String, Long> tokensPerLanguage() {
        return dataset.manifest().split(dataset.split()).tokensPerLanguage();
    }

    public BufferedImage languageChart() {
        return Charts.bars("Tokens per language — " + dataset.split(), "language", "tokens", tokensPerLanguage());
    }

    /** The first {@code n} packed sequences, decoded: what the model reads. */
    public List<String> decodedSequences(int n) throws IOException {
        List<String> out = new ArrayList<>();
        int[] ids = new int[dataset.seqLen() + 1];
        for (long s = 0; s < Math.min(n, dataset.sequenceCount()); s++) {
            dataset.readSequence(s, ids, 0);
            out.add(decoder.apply(ids));
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        dataset.close();
    }
}
