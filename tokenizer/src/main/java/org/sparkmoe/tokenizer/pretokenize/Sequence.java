package org.sparkmoe.tokenizer.pretokenize;

import java.util.List;

/** HF's {@code Sequence} pre-tokenizer: each rule refines the pieces the previous one produced. */
public record Sequence(List<PreTokenizer> steps) implements PreTokenizer {

    public Sequence {
        steps = List.copyOf(steps);
    }

    @Override
    public void refine(String text, Pieces pieces, Scratch scratch) {
        for (PreTokenizer step : steps) {
            step.refine(text, pieces, scratch);
        }
    }
}
