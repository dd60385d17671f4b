package org.sparkmoe.tokenizer.train;

import java.util.HashMap;
import java.util.Map;
import org.sparkmoe.tokenizer.pretokenize.LoneSurrogates;
import org.sparkmoe.tokenizer.pretokenize.Pieces;
import org.sparkmoe.tokenizer.pretokenize.PreTokenizer;
import org.sparkmoe.tokenizer.pretokenize.Scratch;

/**
 * Counts the pre-tokens (pieces) of texts: the trainer's input. One counter per thread or Spark partition; merge
 * the maps afterwards (Spark does it with {@code reduceByKey}). Not thread-safe.
 */
public final class PreTokenCounter {

    private final PreTokenizer preTokenizer;
    private final Pieces pieces = new Pieces();
    private final Scratch scratch = new Scratch();
    private final Map<String, Long> counts = new HashMap<>();

    public PreTokenCounter(PreTokenizer preTokenizer) {
        this.preTokenizer = preTokenizer;
    }

    public void add(String rawText) {
        String text = LoneSurrogates.replace(rawText);
        preTokenizer.split(text, 0, text.length(), pieces, scratch);
        for (int i = 0; i < pieces.size(); i++) {
            counts.merge(text.substring(pieces.start(i), pieces.end(i)), 1L, Long::sum);
        }
    }

    /** Piece text to the number of times it occurred. */
    public Map<String, Long> counts() {
        return counts;
    }
}
