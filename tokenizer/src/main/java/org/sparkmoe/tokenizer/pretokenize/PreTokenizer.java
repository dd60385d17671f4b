package org.sparkmoe.tokenizer.pretokenize;

/**
 * One rule of HF's {@code pre_tokenizer}: cuts each piece of text into smaller pieces. Rules are data (they read
 * from and write to {@code tokenizer.json}); instances are immutable and thread-safe, and the per-thread state
 * they need lives in {@link Scratch}.
 */
public sealed interface PreTokenizer permits Split, Digits, ByteLevel, Sequence {

    /**
     * Replaces {@code pieces} (ranges of {@code text}) by their refinement under this rule, in order.
     * {@code scratch} is the caller's per-thread working memory.
     */
    void refine(String text, Pieces pieces, Scratch scratch);

    /** Cuts a whole text: the pieces the BPE model then encodes one by one. */
    default void split(String text, int start, int end, Pieces out, Scratch scratch) {
        out.clear();
        out.add(start, end);
        refine(text, out, scratch);
    }
}
