package org.sparkmoe.jobs.tokenizer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.train.TrainerConfig;

/**
 * The validated settings of {@code train-tokenizer} (defaults in {@code conf/train-tokenizer.properties}).
 *
 * @param input           the prepare job's output directory (its {@code kept/} Parquet is read)
 * @param output          where tokenizer.json and report.json are written
 * @param trainer         vocabulary size, minimum frequency, special tokens
 * @param languageWeights fraction of each language's documents kept for training (languages not listed: 1.0)
 * @param holdoutFraction fraction of documents (by id hash) kept out of training for the report
 * @param seed            sampling seed
 */
record TrainTokenizerSettings(String input, String output, TrainerConfig trainer, Map<String, Double> languageWeights,
                              double holdoutFraction, long seed) {

    static TrainTokenizerSettings from(JobSettings s) {
        int vocab = s.integer("vocab-size");
        long minFrequency = s.longValue("min-frequency");
        List<String> specials = s.list("special-tokens");
        String bos = s.find("bos-token").orElse(null);
        String eos = s.find("eos-token").orElse(null);
        TrainerConfig trainer;
        try {
            trainer = new TrainerConfig(vocab, minFrequency, specials, bos, eos, DeepSeekRules.preTokenizer());
        } catch (IllegalArgumentException e) {
            throw new UsageException("train-tokenizer: " + e.getMessage(), e);
        }
        Map<String, Double> weights = new LinkedHashMap<>();
        for (String entry : s.list("lang-weights")) {
            int eq = entry.indexOf('=');
            double w;
            try {
                w = eq > 0 ? Double.parseDouble(entry.substring(eq + 1)) : Double.NaN;
            } catch (NumberFormatException e) {
                w = Double.NaN;
            }
            if (!(w >= 0 && w <= 1)) {
                throw new UsageException("option lang-weights: '" + entry + "' must be LANG=FRACTION with a fraction"
                        + " in [0, 1], for example en=1.0,zh=0.5");
            }
            weights.put(entry.substring(0, eq).strip(), w);
        }
        double holdout = s.number("holdout-fraction");
        s.require(holdout >= 0 && holdout < 1, "holdout-fraction", "in [0, 1)");
        return new TrainTokenizerSettings(s.string("input"), s.string("output"), trainer, weights, holdout,
                s.longValue("seed"));
    }
}
