package org.sparkmoe.tokenizer;

import java.util.Objects;

/**
 * A token outside the BPE merges (HF's {@code added_tokens}): BOS, EOS, PAD and user-defined markers. Never split
 * by BPE; found in text only when the caller asks ({@link Tokenizer#encode(String, boolean, boolean)}).
 *
 * @param id         its id
 * @param content    its exact text
 * @param special    true for control tokens (BOS/EOS/PAD): {@link Tokenizer#decode(int[])} leaves them out
 * @param normalized HF's flag, kept for round trips (our normalizer is the identity, so it changes nothing)
 */
public record AddedToken(int id, String content, boolean special, boolean normalized) {

    public AddedToken {
        Objects.requireNonNull(content, "content");
        if (content.isEmpty()) {
            throw new IllegalArgumentException("added token " + id + " has empty content");
        }
        if (id < 0) {
            throw new IllegalArgumentException("added token '" + content + "' has a negative id " + id);
        }
    }
}
