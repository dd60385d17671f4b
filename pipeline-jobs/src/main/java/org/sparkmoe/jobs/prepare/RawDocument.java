package org.sparkmoe.jobs.prepare;

import java.io.Serializable;

/**
 * One input record after reading and decoding, before cleaning.
 *
 * @param id           the record's id (or {@code FILE@OFFSET} when it has none or could not be parsed)
 * @param source       the record's source field, or the file URI
 * @param langHint     the source's language hint, if any (null otherwise)
 * @param text         the decoded text; for a rejected record, a sample of what could be decoded (may be null)
 * @param bytes        the record's size in the input, in bytes
 * @param origin       the file URI it came from
 * @param offset       its byte offset (JSONL) or row number (Parquet) in that file
 * @param decodeReject why decoding failed ({@code malformed_json}, {@code invalid_utf8}, ...), or null
 */
public record RawDocument(String id, String source, String langHint, String text, long bytes, String origin,
                          long offset, String decodeReject) implements Serializable {

    static RawDocument rejected(String origin, long offset, long bytes, String reason, String sample) {
        return new RawDocument(origin + "@" + offset, origin, null, sample, bytes, origin, offset, reason);
    }
}
