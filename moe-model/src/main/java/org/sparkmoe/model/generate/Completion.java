package org.sparkmoe.model.generate;

/** The tokens generated for one prompt (the prompt not included) and why generation stopped. */
public record Completion(int[] tokens, StopReason stop) {

    public Completion {
        tokens = tokens.clone();
    }

    @Override
    public int[] tokens() {
        return tokens.clone();
    }
}
