package org.sparkmoe.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.sparkmoe.tokenizer.hf.TokenizerFormatException;
import org.sparkmoe.tokenizer.testing.TrainedTokenizers;

/** Malformed and unsupported tokenizer.json, bad ids: a clear error naming where, never a wrong id. */
class BadInputTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** The small trained tokenizer's JSON with one edit applied. */
    private static String edited(Consumer<ObjectNode> edit) throws Exception {
        ObjectNode root = (ObjectNode) MAPPER.readTree(TrainedTokenizers.small().toJson());
        edit.accept(root);
        return MAPPER.writeValueAsString(root);
    }

    private static TokenizerFormatException refused(String json) {
        return assertThrows(TokenizerFormatException.class, () -> Tokenizer.fromJson(json));
    }

    @Test
    void malformedJsonNamesLineAndColumn() {
        TokenizerFormatException e = refused("{\"model\": {\"type\": \"BPE\",");
        assertEquals("$", e.jsonPath());
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
        assertEquals("$", refused("[1, 2]").jsonPath());
    }

    @Test
    void unsupportedPartsAreRefusedWithTheirPath() throws Exception {
        assertEquals("model.type", refused(edited(r -> ((ObjectNode) r.get("model")).put("type", "Unigram")))
                .jsonPath());
        assertEquals("normalizer", refused(edited(r -> r.putObject("normalizer").put("type", "NFC"))).jsonPath());
        assertEquals("pre_tokenizer.pretokenizers[1].type", refused(edited(r ->
                ((ObjectNode) r.get("pre_tokenizer").get("pretokenizers").get(1)).put("type", "Whitespace")))
                .jsonPath());
        assertEquals("pre_tokenizer.pretokenizers[0].behavior", refused(edited(r ->
                ((ObjectNode) r.get("pre_tokenizer").get("pretokenizers").get(0)).put("behavior", "Sideways")))
                .jsonPath());
        assertEquals("pre_tokenizer.pretokenizers[0].pattern.Regex", refused(edited(r ->
                ((ObjectNode) r.get("pre_tokenizer").get("pretokenizers").get(0).get("pattern"))
                        .put("Regex", "[unclosed"))).jsonPath());
        assertEquals("decoder.type", refused(edited(r -> r.putObject("decoder").put("type", "WordPiece")))
                .jsonPath());
        assertEquals("model.byte_fallback", refused(edited(r -> ((ObjectNode) r.get("model"))
                .put("byte_fallback", true))).jsonPath());
        assertEquals("truncation", refused(edited(r -> r.putObject("truncation").put("max_length", 8))).jsonPath());
        assertEquals("added_tokens[0].lstrip", refused(edited(r -> ((ObjectNode) r.get("added_tokens").get(0))
                .put("lstrip", true))).jsonPath());
        assertEquals("post_processor.type", refused(edited(r -> r.putObject("post_processor")
                .put("type", "BertProcessing"))).jsonPath());
    }

    @Test
    void inconsistentVocabularyIsRefused() throws Exception {
        TokenizerFormatException missingByte = refused(edited(r ->
                ((ObjectNode) r.get("model").get("vocab")).remove("Ġ")));
        assertTrue(missingByte.getMessage().contains("byte 0x20"), missingByte.getMessage());
        TokenizerFormatException badMerge = refused(edited(r ->
                ((com.fasterxml.jackson.databind.node.ArrayNode) r.get("model").get("merges")).insert(0, "q zzz")));
        assertTrue(badMerge.getMessage().contains("merge #0"), badMerge.getMessage());
        assertEquals("model.merges[0]", refused(edited(r ->
                ((com.fasterxml.jackson.databind.node.ArrayNode) r.get("model").get("merges")).insert(0, "abc")))
                .jsonPath());
    }

    @Test
    void unknownIdsAreRefusedWhenDecoding() {
        Tokenizer t = TrainedTokenizers.small();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> t.decode(new int[] {5, t.vocabSize()}));
        assertTrue(e.getMessage().contains("id " + t.vocabSize()), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {-1}));
        assertThrows(IllegalArgumentException.class, () -> t.idToken(t.vocabSize()));
    }

    @Test
    void specialTokensInTextAreTextUnlessAsked() {
        Tokenizer t = TrainedTokenizers.small();
        String text = "end<｜end▁of▁sentence｜>here";
        int[] plain = t.encode(text);
        assertTrue(java.util.Arrays.stream(plain).noneMatch(id -> id == 1));
        assertEquals(text, t.decode(plain));
        int[] matched = t.encode(text, false, true);
        assertEquals(1, java.util.Arrays.stream(matched).filter(id -> id == 1).count());
        assertEquals("endhere", t.decode(matched));
        assertEquals(text, t.decode(matched, false));
    }
}
