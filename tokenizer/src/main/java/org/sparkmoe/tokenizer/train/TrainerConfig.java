package org.sparkmoe.tokenizer.train;

import java.util.List;
import java.util.Objects;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.pretokenize.PreTokenizer;

/**
 * What the BPE trainer learns and writes.
 *
 * @param vocabSize     tokens in the result, special tokens and the 256 bytes included; training stops earlier
 *                      when no pair reaches {@code minFrequency}
 * @param minFrequency  a pair seen fewer times than this is never merged (at least 1)
 * @param specialTokens added tokens, ids 0.. in this order (for example BOS, EOS, PAD)
 * @param bosToken      the special token the post-processor puts before a text, or null for none
 * @param eosToken      the special token it puts after a text, or null for none
 * @param preTokenizer  the cutting rules, written into the tokenizer.json
 */
public record TrainerConfig(int vocabSize, long minFrequency, List<String> specialTokens, String bosToken,
                            String eosToken, PreTokenizer preTokenizer) {

    public static final String BOS = "<｜begin▁of▁sentence｜>";
    public static final String EOS = "<｜end▁of▁sentence｜>";
    public static final String PAD = "<｜▁pad▁｜>";

    public TrainerConfig {
        specialTokens = List.copyOf(specialTokens);
        Objects.requireNonNull(preTokenizer, "preTokenizer");
        if (specialTokens.stream().distinct().count() != specialTokens.size()) {
            throw new IllegalArgumentException("special tokens " + specialTokens + " contain a duplicate");
        }
        if (specialTokens.stream().anyMatch(String::isEmpty)) {
            throw new IllegalArgumentException("special tokens " + specialTokens + " contain an empty string");
        }
        int minimum = 256 + specialTokens.size();
        if (vocabSize < minimum) {
            throw new IllegalArgumentException("vocabulary size " + vocabSize + " is smaller than the byte alphabet"
                    + " (256) plus " + specialTokens.size() + " special tokens: give at least " + minimum);
        }
        if (minFrequency < 1) {
            throw new IllegalArgumentException("minimum pair frequency " + minFrequency + " must be at least 1");
        }
        for (String t : new String[] {bosToken, eosToken}) {
            if (t != null && !specialTokens.contains(t)) {
                throw new IllegalArgumentException("BOS/EOS token '" + t + "' is not among the special tokens "
                        + specialTokens);
            }
        }
    }

    /** DeepSeek's conventions: BOS, EOS and PAD as ids 0..2, BOS and EOS added around texts, DeepSeek's rules. */
    public static TrainerConfig deepSeek(int vocabSize, long minFrequency) {
        return new TrainerConfig(vocabSize, minFrequency, List.of(BOS, EOS, PAD), BOS, EOS,
                DeepSeekRules.preTokenizer());
    }
}
