package org.sparkmoe.tokenizer.hf;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What HF's {@code post_processor} adds around a single sequence when special tokens are requested.
 * {@code ByteLevel} adds nothing; {@code TemplateProcessing} adds the special tokens its {@code single} template
 * puts before and after {@code $A}. The JSON is kept as read so that writing it back is exact.
 *
 * @param json   the {@code post_processor} object, or a JSON null
 * @param prefix ids added before the text
 * @param suffix ids added after the text
 */
public record PostProcessor(JsonNode json, int[] prefix, int[] suffix) {

    public PostProcessor {
        prefix = prefix.clone();
        suffix = suffix.clone();
    }

    @Override
    public int[] prefix() {
        return prefix.clone();
    }

    @Override
    public int[] suffix() {
        return suffix.clone();
    }
}
