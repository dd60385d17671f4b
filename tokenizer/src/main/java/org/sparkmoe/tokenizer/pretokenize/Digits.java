package org.sparkmoe.tokenizer.pretokenize;

/**
 * HF's {@code Digits} pre-tokenizer: numeric characters (Rust's {@code char::is_numeric}: general categories Nd, Nl
 * and No) become pieces of their own, one per character when {@code individualDigits}, else one per run.
 */
public record Digits(boolean individualDigits) implements PreTokenizer {

    @Override
    public void refine(String text, Pieces pieces, Scratch scratch) {
        Pieces out = scratch.spare;
        out.clear();
        SplitBehavior behavior = individualDigits ? SplitBehavior.Isolated : SplitBehavior.Contiguous;
        for (int p = 0; p < pieces.size(); p++) {
            int end = pieces.end(p);
            scratch.segments.clear();
            int gapStart = pieces.start(p);
            for (int i = gapStart; i < end; ) {
                int cp = text.codePointAt(i);
                int next = i + Character.charCount(cp);
                if (isNumeric(cp)) {
                    scratch.addSegment(gapStart, i, false);
                    scratch.addSegment(i, next, true);
                    gapStart = next;
                }
                i = next;
            }
            scratch.addSegment(gapStart, end, false);
            behavior.emit(scratch.segments, scratch.segmentIsMatch, out);
        }
        pieces.swap(out);
    }

    static boolean isNumeric(int codePoint) {
        int type = Character.getType(codePoint);
        return type == Character.DECIMAL_DIGIT_NUMBER || type == Character.LETTER_NUMBER
                || type == Character.OTHER_NUMBER;
    }
}
