package org.sparkmoe.tokenizer.pretokenize;

import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Per-thread working memory of pre-tokenization: a spare piece list, the match/gap segments of the piece being cut,
 * and one reusable matcher per pattern. Keeping these here is what makes the rules themselves immutable.
 */
public final class Scratch {

    final Pieces spare = new Pieces();
    final Pieces segments = new Pieces();
    boolean[] segmentIsMatch = new boolean[64];
    private final Map<Pattern, Matcher> matchers = new IdentityHashMap<>();

    Matcher matcher(Pattern pattern, String text) {
        Matcher m = matchers.get(pattern);
        if (m == null) {
            m = pattern.matcher(text);
            matchers.put(pattern, m);
        } else {
            m.reset(text);
        }
        return m;
    }

    /** Appends one segment of the piece being cut; empty segments carry nothing and are skipped. */
    void addSegment(int start, int end, boolean isMatch) {
        if (start >= end) {
            return;
        }
        int i = segments.size();
        if (i >= segmentIsMatch.length) {
            segmentIsMatch = Arrays.copyOf(segmentIsMatch, segmentIsMatch.length * 2);
        }
        segmentIsMatch[i] = isMatch;
        segments.add(start, end);
    }
}
