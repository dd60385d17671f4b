package org.sparkmoe.tokenizer.hf;

/**
 * A {@code tokenizer.json} that is malformed or uses something we do not support. The message names the JSON path
 * (for example {@code model.type} or {@code pre_tokenizer.pretokenizers[2].behavior}), what is there and what is
 * accepted; we refuse rather than encode with different ids than HF would.
 */
public final class TokenizerFormatException extends IllegalArgumentException {

    private final String jsonPath;

    public TokenizerFormatException(String jsonPath, String problem) {
        super("tokenizer.json at " + jsonPath + ": " + problem);
        this.jsonPath = jsonPath;
    }

    public TokenizerFormatException(String jsonPath, String problem, Throwable cause) {
        super("tokenizer.json at " + jsonPath + ": " + problem, cause);
        this.jsonPath = jsonPath;
    }

    /** Where in the document the problem is; {@code $} for the document itself. */
    public String jsonPath() {
        return jsonPath;
    }
}
