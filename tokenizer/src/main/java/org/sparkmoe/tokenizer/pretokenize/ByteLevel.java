package org.sparkmoe.tokenizer.pretokenize;

/**
 * HF's {@code ByteLevel} pre-tokenizer. The byte-to-character mapping itself happens in the BPE encoder (which works
 * on UTF-8 bytes directly); as a cutting rule ByteLevel only applies GPT-2's regex when {@code useRegex}.
 * {@code addPrefixSpace = true} is not supported (it rewrites the text) and is refused when a tokenizer.json is read.
 */
public record ByteLevel(boolean addPrefixSpace, boolean trimOffsets, boolean useRegex) implements PreTokenizer {

    /** GPT-2's pre-tokenization regex, as HF's ByteLevel applies it when {@code use_regex} is true. */
    public static final String GPT2_PATTERN =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private static final Split GPT2_SPLIT = Split.regex(GPT2_PATTERN, SplitBehavior.Isolated, false);

    public ByteLevel {
        if (addPrefixSpace) {
            throw new IllegalArgumentException("ByteLevel with add_prefix_space=true is not supported");
        }
    }

    @Override
    public void refine(String text, Pieces pieces, Scratch scratch) {
        if (useRegex) {
            GPT2_SPLIT.refine(text, pieces, scratch);
        }
    }
}
