package org.sparkmoe.tokenizer.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.util.Map;
import org.sparkmoe.tokenizer.AddedToken;
import org.sparkmoe.tokenizer.bpe.BpeModel;
import org.sparkmoe.tokenizer.pretokenize.ByteLevel;
import org.sparkmoe.tokenizer.pretokenize.Digits;
import org.sparkmoe.tokenizer.pretokenize.PreTokenizer;
import org.sparkmoe.tokenizer.pretokenize.Sequence;
import org.sparkmoe.tokenizer.pretokenize.Split;

/**
 * Writes a {@link TokenizerDefinition} as HF {@code tokenizer.json}. The output is a pure function of the definition
 * (fixed key order, vocabulary in id order, merges in rank order), so equal tokenizers give byte-identical files.
 */
public final class TokenizerJsonWriter {

    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private TokenizerJsonWriter() {}

    public static String write(TokenizerDefinition d) {
        ObjectNode root = F.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (AddedToken t : d.addedTokens()) {
            ObjectNode o = added.addObject();
            o.put("id", t.id());
            o.put("content", t.content());
            o.put("single_word", false);
            o.put("lstrip", false);
            o.put("rstrip", false);
            o.put("normalized", t.normalized());
            o.put("special", t.special());
        }
        root.set("normalizer", d.normalizer());
        root.set("pre_tokenizer", preTokenizer(d.preTokenizer()));
        root.set("post_processor", d.postProcessor().json());
        root.set("decoder", d.decoder());
        root.set("model", model(d.model()));
        try {
            return MAPPER.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ObjectNode preTokenizer(PreTokenizer p) {
        ObjectNode o = F.objectNode();
        switch (p) {
            case Sequence s -> {
                o.put("type", "Sequence");
                ArrayNode steps = o.putArray("pretokenizers");
                s.steps().forEach(step -> steps.add(preTokenizer(step)));
            }
            case Split s -> {
                o.put("type", "Split");
                o.putObject("pattern").put(s.isRegex() ? "Regex" : "String", s.pattern());
                o.put("behavior", s.behavior().name());
                o.put("invert", s.invert());
            }
            case Digits dg -> {
                o.put("type", "Digits");
                o.put("individual_digits", dg.individualDigits());
            }
            case ByteLevel b -> {
                o.put("type", "ByteLevel");
                o.put("add_prefix_space", b.addPrefixSpace());
                o.put("trim_offsets", b.trimOffsets());
                o.put("use_regex", b.useRegex());
            }
        }
        return o;
    }

    private static ObjectNode model(BpeModel m) {
        ObjectNode o = F.objectNode();
        o.put("type", "BPE");
        o.putNull("dropout");
        o.putNull("unk_token");
        o.putNull("continuing_subword_prefix");
        o.putNull("end_of_word_suffix");
        o.put("fuse_unk", false);
        o.put("byte_fallback", false);
        o.put("ignore_merges", m.ignoreMerges());
        ObjectNode vocab = o.putObject("vocab");
        for (Map.Entry<String, Integer> e : m.vocab().entrySet()) {
            vocab.put(e.getKey(), e.getValue());
        }
        ArrayNode merges = o.putArray("merges");
        for (BpeModel.Merge merge : m.merges()) {
            // Byte-level tokens never contain a space (0x20 is spelled U+0120), so "left right" is unambiguous.
            merges.add(m.token(merge.left()) + " " + m.token(merge.right()));
        }
        return o;
    }

    /** HF's ByteLevel decoder, as our trained tokenizers write it. */
    public static ObjectNode byteLevelDecoder() {
        ObjectNode o = F.objectNode();
        o.put("type", "ByteLevel");
        o.put("add_prefix_space", false);
        o.put("trim_offsets", true);
        o.put("use_regex", false);
        return o;
    }

    /**
     * A {@code TemplateProcessing} post-processor that puts {@code bos} before and {@code eos} after a single
     * sequence (either may be null to leave it out); pairs get the same around each sequence.
     */
    public static PostProcessor template(AddedToken bos, AddedToken eos) {
        ObjectNode o = F.objectNode();
        o.put("type", "TemplateProcessing");
        ArrayNode single = o.putArray("single");
        addWrapped(single, bos, "A", 0, eos);
        ArrayNode pair = o.putArray("pair");
        addWrapped(pair, bos, "A", 0, eos);
        addWrapped(pair, bos, "B", 1, eos);
        ObjectNode specials = o.putObject("special_tokens");
        for (AddedToken t : new AddedToken[] {bos, eos}) {
            if (t != null) {
                ObjectNode s = specials.putObject(t.content());
                s.put("id", t.content());
                s.putArray("ids").add(t.id());
                s.putArray("tokens").add(t.content());
            }
        }
        int[] prefix = bos == null ? new int[0] : new int[] {bos.id()};
        int[] suffix = eos == null ? new int[0] : new int[] {eos.id()};
        return new PostProcessor(o, prefix, suffix);
    }

    private static void addWrapped(ArrayNode template, AddedToken bos, String sequence, int typeId, AddedToken eos) {
        if (bos != null) {
            template.addObject().putObject("SpecialToken").put("id", bos.content()).put("type_id", typeId);
        }
        template.addObject().putObject("Sequence").put("id", sequence).put("type_id", typeId);
        if (eos != null) {
            template.addObject().putObject("SpecialToken").put("id", eos.content()).put("type_id", typeId);
        }
    }
}
