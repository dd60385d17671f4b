package org.sparkmoe.jobs.prepare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns the bytes of one record (a JSONL line or a whole text file) into a {@link RawDocument}: strict UTF-8
 * decoding (or repair, per {@code decode.invalid-utf8}), then JSON parsing and field extraction. Every failure
 * becomes a rejected document with a reason, never an exception.
 */
final class RecordDecoder implements Serializable {

    static final String INVALID_UTF8 = "invalid_utf8";
    static final String MALFORMED_JSON = "malformed_json";
    static final String MISSING_TEXT = "missing_text";
    static final String RECORD_TOO_LARGE = "record_too_large";
    static final String BINARY_FILE = "binary_file";
    static final String UNREADABLE_FILE = "unreadable_file";
    static final String DUPLICATE_ID = "duplicate_id";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final PrepareConfig.InputFields fields;
    private final boolean repairInvalidUtf8;
    private final int sampleChars;

    RecordDecoder(PrepareConfig config) {
        this.fields = config.fields();
        this.repairInvalidUtf8 = config.repairInvalidUtf8();
        this.sampleChars = config.rejectSampleChars();
    }

    RawDocument jsonLine(byte[] bytes, int length, String origin, long offset) {
        String line;
        try {
            line = strict(bytes, length);
        } catch (CharacterCodingException e) {
            if (!repairInvalidUtf8) {
                return RawDocument.rejected(origin, offset, length, INVALID_UTF8, sample(lossy(bytes, length)));
            }
            line = lossy(bytes, length);
        }
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (Exception e) {
            return RawDocument.rejected(origin, offset, length, MALFORMED_JSON, sample(line));
        }
        if (node == null || !node.isObject()) {
            return RawDocument.rejected(origin, offset, length, MALFORMED_JSON, sample(line));
        }
        String id = scalar(node, fields.id());
        String generatedId = origin + "@" + offset;
        JsonNode text = node.get(fields.text());
        if (text == null || !text.isTextual()) {
            return new RawDocument(id != null ? id : generatedId, source(node, origin), scalar(node, fields.hint()),
                    sample(line), length, origin, offset, MISSING_TEXT);
        }
        return new RawDocument(id != null ? id : generatedId, source(node, origin), scalar(node, fields.hint()),
                text.asText(), length, origin, offset, null);
    }

    RawDocument textFile(byte[] bytes, int length, String origin) {
        try {
            return new RawDocument(origin, origin, null, strict(bytes, length), length, origin, 0, null);
        } catch (CharacterCodingException e) {
            String text = lossy(bytes, length);
            return repairInvalidUtf8 ? new RawDocument(origin, origin, null, text, length, origin, 0, null)
                    : new RawDocument(origin, origin, null, sample(text), length, origin, 0, INVALID_UTF8);
        }
    }

    String sample(String s) {
        return s.length() <= sampleChars ? s : s.substring(0, sampleChars);
    }

    private String source(JsonNode node, String origin) {
        String source = scalar(node, fields.source());
        return source != null ? source : origin;
    }

    private static String scalar(JsonNode node, String field) {
        JsonNode v = node.get(field);
        return v != null && v.isValueNode() && !v.isNull() ? v.asText() : null;
    }

    private static String strict(byte[] bytes, int length) throws CharacterCodingException {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        CharBuffer chars = decoder.decode(ByteBuffer.wrap(bytes, 0, length));
        return chars.toString();
    }

    static String lossy(byte[] bytes, int length) {
        return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }
}
