package org.sparkmoe.tokenizer.pretokenize;

/**
 * A direct matcher for {@code \s+$} under Ruby's (and our {@code MULTILINE}) meaning of {@code $}: before a
 * {@code \n} or at the end. Gives exactly {@code java.util.regex}'s successive matches: from each start, the
 * greedy run of whitespace backs off to the last position where {@code $} holds.
 */
final class TrailingSpace implements SegmentMatcher {

    static final String PATTERN = "\\s+$";

    @Override
    public String name() {
        return "direct";
    }

    @Override
    public void segment(String text, int start, int end, boolean invert, Scratch scratch) {
        int gapStart = start;
        int i = start;
        while (i < end) {
            if (!CharClassRun.isSpace(text.charAt(i))) {
                i++;
                continue;
            }
            int runEnd = i;
            while (runEnd < end && CharClassRun.isSpace(text.charAt(runEnd))) {
                runEnd++;
            }
            int matchEnd = -1;
            for (int k = runEnd; k > i; k--) {
                if (k == end || text.charAt(k) == '\n') {
                    matchEnd = k;
                    break;
                }
            }
            if (matchEnd < 0) {
                i++;
                continue;
            }
            scratch.addSegment(gapStart, i, invert);
            scratch.addSegment(i, matchEnd, !invert);
            gapStart = matchEnd;
            i = matchEnd;
        }
        scratch.addSegment(gapStart, end, invert);
    }
}
