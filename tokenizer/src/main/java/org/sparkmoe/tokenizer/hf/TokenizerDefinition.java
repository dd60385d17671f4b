package org.sparkmoe.tokenizer.hf;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Objects;
import org.sparkmoe.tokenizer.AddedToken;
import org.sparkmoe.tokenizer.bpe.BpeModel;
import org.sparkmoe.tokenizer.pretokenize.PreTokenizer;

/**
 * Everything a {@code tokenizer.json} says that we use, validated: the parts of HF's pipeline, one field each.
 *
 * @param normalizer    kept as read (only the identity is accepted); a JSON null when absent
 * @param preTokenizer  the cutting rules
 * @param model         the byte-level BPE model
 * @param addedTokens   special and user-defined tokens, by id
 * @param postProcessor what {@code addSpecialTokens} adds
 * @param decoder       kept as read (only byte-level decoding is accepted)
 */
public record TokenizerDefinition(JsonNode normalizer, PreTokenizer preTokenizer, BpeModel model,
                                  List<AddedToken> addedTokens, PostProcessor postProcessor, JsonNode decoder) {

    public TokenizerDefinition {
        Objects.requireNonNull(normalizer, "normalizer");
        Objects.requireNonNull(preTokenizer, "preTokenizer");
        Objects.requireNonNull(model, "model");
        addedTokens = List.copyOf(addedTokens);
        Objects.requireNonNull(postProcessor, "postProcessor");
        Objects.requireNonNull(decoder, "decoder");
    }
}
