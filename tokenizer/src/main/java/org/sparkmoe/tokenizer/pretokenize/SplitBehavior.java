package org.sparkmoe.tokenizer.pretokenize;

/**
 * What HF's {@code Split} does with a match and the text around it (its {@code behavior} field). With
 * {@code Isolated}, matches and the gaps between them each become a piece.
 */
public enum SplitBehavior {
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous;

    /**
     * Turns the alternating match/gap segments of ONE piece into output pieces, as HF's
     * {@code NormalizedString::split} folds them (a fold that starts afresh for each piece).
     */
    void emit(Pieces segments, boolean[] isMatch, Pieces out) {
        int n = segments.size();
        int first = out.size();
        boolean previousMatch = false;
        switch (this) {
            case Removed -> {
                for (int i = 0; i < n; i++) {
                    if (!isMatch[i]) {
                        out.add(segments.start(i), segments.end(i));
                    }
                }
            }
            case Isolated -> {
                for (int i = 0; i < n; i++) {
                    out.add(segments.start(i), segments.end(i));
                }
            }
            case MergedWithPrevious -> {
                for (int i = 0; i < n; i++) {
                    if (isMatch[i] && !previousMatch && out.size() > first) {
                        out.extendLast(segments.end(i));
                    } else {
                        out.add(segments.start(i), segments.end(i));
                    }
                    previousMatch = isMatch[i];
                }
            }
            case MergedWithNext -> {
                // HF folds from the right: a match joins the piece after it. Walk backwards, then restore order.
                for (int i = n - 1; i >= 0; i--) {
                    if (isMatch[i] && !previousMatch && out.size() > first) {
                        out.moveLastStart(segments.start(i));
                    } else {
                        out.add(segments.start(i), segments.end(i));
                    }
                    previousMatch = isMatch[i];
                }
                out.reverseFrom(first);
            }
            case Contiguous -> {
                for (int i = 0; i < n; i++) {
                    if (isMatch[i] == previousMatch && out.size() > first) {
                        out.extendLast(segments.end(i));
                    } else {
                        out.add(segments.start(i), segments.end(i));
                    }
                    previousMatch = isMatch[i];
                }
            }
        }
    }
}
