package org.sparkmoe.model.generate;

/** Why a completion ended. */
public enum StopReason {
    /** The EOS token was generated (it is the completion's last token). */
    EOS("eos"),
    /** {@link GenerationConfig#maxNewTokens()} tokens were generated. */
    MAX_NEW_TOKENS("max-new-tokens"),
    /** Prompt and completion fill the model's context ({@code max_position_embeddings} tokens). */
    CONTEXT("context");

    private final String label;

    StopReason(String label) {
        this.label = label;
    }

    /** The name in job output: {@code eos}, {@code max-new-tokens} or {@code context}. */
    public String label() {
        return label;
    }
}
