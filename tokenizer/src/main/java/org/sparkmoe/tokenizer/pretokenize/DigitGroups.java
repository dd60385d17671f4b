package org.sparkmoe.tokenizer.pretokenize;

/** A direct matcher for {@code \p{N}{1,3}}: each run of numeric characters cut into groups of three from the left. */
final class DigitGroups implements SegmentMatcher {

    static final String PATTERN = "\\p{N}{1,3}";

    @Override
    public String name() {
        return "direct";
    }

    @Override
    public void segment(String text, int start, int end, boolean invert, Scratch scratch) {
        int gapStart = start;
        int i = start;
        while (i < end) {
            int cp = SegmentMatcher.codePointAt(text, i, end);
            if (!Digits.isNumeric(cp)) {
                i += Character.charCount(cp);
                continue;
            }
            int j = i;
            for (int n = 0; n < 3 && j < end; n++) {
                int c = SegmentMatcher.codePointAt(text, j, end);
                if (!Digits.isNumeric(c)) {
                    break;
                }
                j += Character.charCount(c);
            }
            gapStart = SegmentMatcher.emit(scratch, gapStart, i, j, invert);
            i = j;
        }
        scratch.addSegment(gapStart, end, invert);
    }
}
