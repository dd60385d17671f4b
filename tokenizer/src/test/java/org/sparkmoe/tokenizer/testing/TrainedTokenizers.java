package org.sparkmoe.tokenizer.testing;

import java.util.List;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.train.BpeTrainer;
import org.sparkmoe.tokenizer.train.PreTokenCounter;
import org.sparkmoe.tokenizer.train.TrainerConfig;

/** A small tokenizer trained on a sample of the corpus (every 8th document of each train file), built once. */
public final class TrainedTokenizers {

    private static Tokenizer small;

    private TrainedTokenizers() {}

    /** Every {@code stride}-th document of each train file. */
    public static List<String> sample(int stride) {
        return TestCorpus.files("train").stream()
                .flatMap(f -> {
                    List<String> texts = TestCorpus.texts(f);
                    return java.util.stream.IntStream.range(0, texts.size()).filter(i -> i % stride == 0)
                            .mapToObj(texts::get);
                })
                .toList();
    }

    public static PreTokenCounter count(List<String> texts) {
        PreTokenCounter counter = new PreTokenCounter(DeepSeekRules.preTokenizer());
        texts.forEach(counter::add);
        return counter;
    }

    /** 4,000 tokens trained on an eighth of the train corpus with DeepSeek's conventions. */
    public static synchronized Tokenizer small() {
        if (small == null) {
            small = BpeTrainer.train(count(sample(8)).counts(), TrainerConfig.deepSeek(4000, 2));
        }
        return small;
    }
}
