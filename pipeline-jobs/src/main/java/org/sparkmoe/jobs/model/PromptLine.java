package org.sparkmoe.jobs.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import java.io.IOException;
import java.util.Iterator;

/**
 * One line of the generate job's input: {@code {"prompt": "...", "id": ..., <overrides>}} where {@code id} (any JSON
 * value, default the line number) is copied to the output and the overrides are {@link PromptSettings#KEYS}. Anything
 * else is refused with {@link IllegalArgumentException} saying what is wrong, so the job reports the line and goes on.
 *
 * @param id       the line's id, or its line number
 * @param prompt   the prompt text (not empty)
 * @param settings the job's settings with the line's overrides
 */
record PromptLine(JsonNode id, String prompt, PromptSettings settings) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The line as a JSON object; refuses text that is not one. */
    static JsonNode object(String text) {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException("not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("expected a JSON object such as {\"prompt\": \"Once upon a time\"}");
        }
        return node;
    }

    /** The id a line's output carries: its {@code id} if it has one, else its line number. */
    static JsonNode id(JsonNode object, int lineNumber) {
        JsonNode id = object == null ? null : object.get("id");
        return id != null ? id : IntNode.valueOf(lineNumber);
    }

    /** The prompt line in {@code object} (from {@link #object}), its settings those of the job overridden by it. */
    static PromptLine of(JsonNode object, int lineNumber, PromptSettings defaults) {
        for (Iterator<String> keys = object.fieldNames(); keys.hasNext(); ) {
            String key = keys.next();
            if (!key.equals("prompt") && !key.equals("id") && !PromptSettings.KEYS.contains(key)) {
                throw new IllegalArgumentException("unknown key \"" + key + "\": a line holds \"prompt\", optionally"
                        + " \"id\", and may override " + PromptSettings.KEYS);
            }
        }
        JsonNode prompt = object.get("prompt");
        if (prompt == null || !prompt.isTextual()) {
            throw new IllegalArgumentException("no \"prompt\" string: each line needs one, as in"
                    + " {\"prompt\": \"Once upon a time\"}");
        }
        if (prompt.asText().isEmpty()) {
            throw new IllegalArgumentException("empty prompt: give the text to continue");
        }
        return new PromptLine(id(object, lineNumber), prompt.asText(), defaults.overriddenBy(object));
    }
}
