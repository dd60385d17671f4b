package org.sparkmoe.tokenizer.hf;

/**
 * A {@code tokenizer.json} that is malformed or uses something we do not support. The message names the JSON path
 * (for example {@code model.type} or {@code pre_tokenizer.pretokenizers[2].behavior}), what is there and what is
 * accepted; we refuse rather than encode with different ids than HF would.
 */
public final class TokenizerFormatException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final String jsonPath;
    private final String problem;

    public TokenizerFormatException(String jsonPath, String problem) {
        super("tokenizer.json at " + jsonPath + ": " + problem);
        this.jsonPath = jsonPath;
        this.problem = problem;
    }

    public TokenizerFormatException(String jsonPath, String problem, Throwable cause) {
        super("tokenizer.json at " + jsonPath + ": " + problem, cause);
        this.jsonPath = jsonPath;
        this.problem = problem;
    }

    /** What is wrong, without the path. */
    public String problem() {
        return problem;
    }

    /** Where in the document the problem is; {@code $} for the document itself. */
    public String jsonPath() {
        return jsonPath;
    }
}
