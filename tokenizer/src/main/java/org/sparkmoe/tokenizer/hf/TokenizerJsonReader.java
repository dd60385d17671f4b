package org.sparkmoe.tokenizer.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.PatternSyntaxException;
import org.sparkmoe.tokenizer.AddedToken;
import org.sparkmoe.tokenizer.bpe.BpeModel;
import org.sparkmoe.tokenizer.pretokenize.ByteLevel;
import org.sparkmoe.tokenizer.pretokenize.Digits;
import org.sparkmoe.tokenizer.pretokenize.PreTokenizer;
import org.sparkmoe.tokenizer.pretokenize.Sequence;
import org.sparkmoe.tokenizer.pretokenize.Split;
import org.sparkmoe.tokenizer.pretokenize.SplitBehavior;

/**
 * Reads HF {@code tokenizer.json} into a {@link TokenizerDefinition}, accepting exactly what we can encode with the
 * same ids as HF:
 * <ul>
 *   <li>{@code normalizer}: none, or an empty {@code Sequence};</li>
 *   <li>{@code pre_tokenizer}: {@code Split} (Regex or String pattern, any behaviour, invert), {@code Digits},
 *       {@code ByteLevel} (add_prefix_space=false) and {@code Sequence} of these, with a ByteLevel step somewhere;</li>
 *   <li>{@code model}: {@code BPE} without dropout, byte fallback, subword prefix or word suffix;</li>
 *   <li>{@code added_tokens} without single_word / lstrip / rstrip;</li>
 *   <li>{@code post_processor}: none, {@code ByteLevel}, {@code TemplateProcessing} or a {@code Sequence} of them;</li>
 *   <li>{@code decoder}: {@code ByteLevel}; {@code truncation} and {@code padding}: null.</li>
 * </ul>
 * Anything else throws {@link TokenizerFormatException} naming the JSON path.
 */
public final class TokenizerJsonReader {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private TokenizerJsonReader() {}

    public static TokenizerDefinition read(String json) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new TokenizerFormatException("$", "not valid JSON (" + e.getOriginalMessage() + " at line "
                    + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new TokenizerFormatException("$", "expected a JSON object with model, pre_tokenizer, decoder, ...");
        }
        for (String optionalNull : List.of("truncation", "padding")) {
            if (!isNull(root.get(optionalNull))) {
                throw new TokenizerFormatException(optionalNull, "must be null: truncation and padding change the ids"
                        + " and are not supported; remove them (set them to null)");
            }
        }
        JsonNode normalizer = readNormalizer(root.get("normalizer"));
        PreTokenizer pre = readPreTokenizer(root.get("pre_tokenizer"), "pre_tokenizer");
        if (!containsByteLevel(pre)) {
            throw new TokenizerFormatException("pre_tokenizer", "has no ByteLevel step: only byte-level BPE is"
                    + " supported");
        }
        BpeModel model = readModel(require(root, "model", "$"));
        List<AddedToken> added = readAddedTokens(root.get("added_tokens"));
        PostProcessor post = readPostProcessor(root.get("post_processor"));
        JsonNode decoder = readDecoder(root.get("decoder"));
        return new TokenizerDefinition(normalizer, pre, model, added, post, decoder);
    }

    private static boolean isNull(JsonNode n) {
        return n == null || n.isNull();
    }

    private static JsonNode require(JsonNode parent, String field, String path) {
        JsonNode n = parent.get(field);
        if (isNull(n)) {
            throw new TokenizerFormatException(child(path, field), "is missing");
        }
        return n;
    }

    private static String child(String path, String field) {
        return path.equals("$") ? field : path + "." + field;
    }

    private static String text(JsonNode parent, String field, String path) {
        JsonNode n = require(parent, field, path);
        if (!n.isTextual()) {
            throw new TokenizerFormatException(child(path, field), "expected a string, found " + n.getNodeType());
        }
        return n.asText();
    }

    private static boolean bool(JsonNode parent, String field, String path, boolean fallback) {
        JsonNode n = parent.get(field);
        if (isNull(n)) {
            return fallback;
        }
        if (!n.isBoolean()) {
            throw new TokenizerFormatException(child(path, field), "expected true or false, found " + n);
        }
        return n.asBoolean();
    }

    private static JsonNode readNormalizer(JsonNode n) {
        if (isNull(n)) {
            return NullNode.getInstance();
        }
        if ("Sequence".equals(n.path("type").asText()) && n.path("normalizers").isArray()
                && n.path("normalizers").isEmpty()) {
            return n;
        }
        throw new TokenizerFormatException("normalizer", "type " + n.path("type") + " is not supported: only no"
                + " normalizer (null or an empty Sequence) is; normalize the text before encoding instead");
    }

    private static PreTokenizer readPreTokenizer(JsonNode n, String path) {
        if (isNull(n)) {
            throw new TokenizerFormatException(path, "is missing: a byte-level BPE needs a ByteLevel pre-tokenizer");
        }
        String type = text(n, "type", path);
        return switch (type) {
            case "Sequence" -> {
                JsonNode steps = require(n, "pretokenizers", path);
                List<PreTokenizer> out = new ArrayList<>();
                for (int i = 0; i < steps.size(); i++) {
                    out.add(readPreTokenizer(steps.get(i), path + ".pretokenizers[" + i + "]"));
                }
                yield new Sequence(out);
            }
            case "Split" -> readSplit(n, path);
            case "Digits" -> new Digits(bool(n, "individual_digits", path, false));
            case "ByteLevel" -> {
                if (bool(n, "add_prefix_space", path, true)) {
                    throw new TokenizerFormatException(path + ".add_prefix_space", "true is not supported (it"
                            + " rewrites the text); only false is");
                }
                yield new ByteLevel(false, bool(n, "trim_offsets", path, true), bool(n, "use_regex", path, true));
            }
            default -> throw new TokenizerFormatException(path + ".type", "'" + type + "' is not supported; supported"
                    + " pre-tokenizers: Sequence, Split, Digits, ByteLevel");
        };
    }

    private static Split readSplit(JsonNode n, String path) {
        JsonNode pattern = require(n, "pattern", path);
        String behaviorText = text(n, "behavior", path);
        SplitBehavior behavior;
        try {
            behavior = SplitBehavior.valueOf(behaviorText);
        } catch (IllegalArgumentException e) {
            throw new TokenizerFormatException(path + ".behavior", "'" + behaviorText + "' is not one of Removed,"
                    + " Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
        }
        boolean invert = bool(n, "invert", path, false);
        if (pattern.has("Regex")) {
            String regex = text(pattern, "Regex", path + ".pattern");
            try {
                return Split.regex(regex, behavior, invert);
            } catch (PatternSyntaxException e) {
                throw new TokenizerFormatException(path + ".pattern.Regex", "Java cannot compile this pattern ("
                        + e.getDescription() + " near index " + e.getIndex() + ")", e);
            }
        }
        if (pattern.has("String")) {
            return Split.literal(text(pattern, "String", path + ".pattern"), behavior, invert);
        }
        throw new TokenizerFormatException(path + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    }

    private static boolean containsByteLevel(PreTokenizer p) {
        return p instanceof ByteLevel || (p instanceof Sequence s && s.steps().stream()
                .anyMatch(TokenizerJsonReader::containsByteLevel));
    }

    private static BpeModel readModel(JsonNode m) {
        JsonNode type = m.get("type");
        if (!isNull(type) && !"BPE".equals(type.asText())) {
            throw new TokenizerFormatException("model.type", "'" + type.asText() + "' is not supported; only BPE is");
        }
        JsonNode dropout = m.get("dropout");
        if (!isNull(dropout) && dropout.asDouble() != 0.0) {
            throw new TokenizerFormatException("model.dropout", dropout + " is not supported (it makes encoding"
                    + " random); only null is");
        }
        if (bool(m, "byte_fallback", "model", false)) {
            throw new TokenizerFormatException("model.byte_fallback", "true is not supported; only false is");
        }
        for (String field : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            JsonNode v = m.get(field);
            if (!isNull(v) && !v.asText().isEmpty()) {
                throw new TokenizerFormatException("model." + field, "'" + v.asText() + "' is not supported; only"
                        + " null is");
            }
        }
        JsonNode vocabNode = require(m, "vocab", "model");
        if (!vocabNode.isObject()) {
            throw new TokenizerFormatException("model.vocab", "expected an object of token to id");
        }
        Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
        for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().canConvertToInt()) {
                throw new TokenizerFormatException("model.vocab[\"" + e.getKey() + "\"]", "expected an integer id,"
                        + " found " + e.getValue());
            }
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        JsonNode mergesNode = require(m, "merges", "model");
        if (!mergesNode.isArray()) {
            throw new TokenizerFormatException("model.merges", "expected an array");
        }
        List<String[]> merges = new ArrayList<>(mergesNode.size());
        for (int i = 0; i < mergesNode.size(); i++) {
            JsonNode mergeNode = mergesNode.get(i);
            String[] pair;
            if (mergeNode.isTextual()) {
                pair = mergeNode.asText().split(" ", -1);
            } else if (mergeNode.isArray()) {
                pair = new String[mergeNode.size()];
                for (int k = 0; k < pair.length; k++) {
                    pair[k] = mergeNode.get(k).asText();
                }
            } else {
                pair = new String[0];
            }
            if (pair.length != 2) {
                throw new TokenizerFormatException("model.merges[" + i + "]", "expected \"left right\" or"
                        + " [\"left\", \"right\"], found " + mergeNode);
            }
            merges.add(pair);
        }
        try {
            return new BpeModel(vocab, merges, bool(m, "ignore_merges", "model", false));
        } catch (IllegalArgumentException e) {
            throw new TokenizerFormatException("model", e.getMessage(), e);
        }
    }

    private static List<AddedToken> readAddedTokens(JsonNode n) {
        List<AddedToken> out = new ArrayList<>();
        if (isNull(n)) {
            return out;
        }
        for (int i = 0; i < n.size(); i++) {
            JsonNode t = n.get(i);
            String path = "added_tokens[" + i + "]";
            for (String flag : List.of("single_word", "lstrip", "rstrip")) {
                if (bool(t, flag, path, false)) {
                    throw new TokenizerFormatException(path + "." + flag, "true is not supported; only false is");
                }
            }
            JsonNode id = require(t, "id", path);
            if (!id.canConvertToInt()) {
                throw new TokenizerFormatException(path + ".id", "expected an integer, found " + id);
            }
            try {
                out.add(new AddedToken(id.asInt(), text(t, "content", path), bool(t, "special", path, false),
                        bool(t, "normalized", path, false)));
            } catch (IllegalArgumentException e) {
                throw new TokenizerFormatException(path, e.getMessage(), e);
            }
        }
        return out;
    }

    private static PostProcessor readPostProcessor(JsonNode n) {
        if (isNull(n)) {
            return new PostProcessor(NullNode.getInstance(), new int[0], new int[0]);
        }
        List<Integer> prefix = new ArrayList<>();
        List<Integer> suffix = new ArrayList<>();
        collectTemplate(n, "post_processor", prefix, suffix);
        return new PostProcessor(n, prefix.stream().mapToInt(Integer::intValue).toArray(),
                suffix.stream().mapToInt(Integer::intValue).toArray());
    }

    private static void collectTemplate(JsonNode n, String path, List<Integer> prefix, List<Integer> suffix) {
        String type = text(n, "type", path);
        switch (type) {
            case "ByteLevel" -> { }
            case "Sequence" -> {
                JsonNode steps = require(n, "processors", path);
                for (int i = 0; i < steps.size(); i++) {
                    collectTemplate(steps.get(i), path + ".processors[" + i + "]", prefix, suffix);
                }
            }
            case "TemplateProcessing" -> {
                JsonNode single = require(n, "single", path);
                JsonNode specials = n.path("special_tokens");
                boolean seenSequence = false;
                for (int i = 0; i < single.size(); i++) {
                    JsonNode item = single.get(i);
                    String itemPath = path + ".single[" + i + "]";
                    if (item.has("Sequence")) {
                        if (seenSequence) {
                            throw new TokenizerFormatException(itemPath, "a second sequence in a single template");
                        }
                        seenSequence = true;
                    } else if (item.has("SpecialToken")) {
                        String name = text(item.get("SpecialToken"), "id", itemPath + ".SpecialToken");
                        JsonNode ids = specials.path(name).path("ids");
                        if (!ids.isArray() || ids.isEmpty()) {
                            throw new TokenizerFormatException(path + ".special_tokens", "has no ids for '" + name
                                    + "', which " + itemPath + " uses");
                        }
                        for (JsonNode id : ids) {
                            (seenSequence ? suffix : prefix).add(id.asInt());
                        }
                    } else {
                        throw new TokenizerFormatException(itemPath, "expected Sequence or SpecialToken, found "
                                + item);
                    }
                }
            }
            default -> throw new TokenizerFormatException(path + ".type", "'" + type + "' is not supported;"
                    + " supported post-processors: ByteLevel, TemplateProcessing, Sequence");
        }
    }

    private static JsonNode readDecoder(JsonNode n) {
        if (isNull(n)) {
            throw new TokenizerFormatException("decoder", "is missing: only the ByteLevel decoder is supported");
        }
        String type = text(n, "type", "decoder");
        if (!type.equals("ByteLevel")) {
            throw new TokenizerFormatException("decoder.type", "'" + type + "' is not supported; only ByteLevel is");
        }
        return n;
    }
}
