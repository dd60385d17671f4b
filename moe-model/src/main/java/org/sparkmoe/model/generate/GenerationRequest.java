package org.sparkmoe.model.generate;

/**
 * One prompt to continue: its token ids (at least one, fewer than the model's context) and how to continue it.
 */
public record GenerationRequest(int[] prompt, GenerationConfig config) {

    public GenerationRequest {
        prompt = prompt.clone();
    }

    @Override
    public int[] prompt() {
        return prompt.clone();
    }
}
