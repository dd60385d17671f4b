package org.sparkmoe.jobs.shards;

import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The Arrow schema of a token shard: one row per document.
 *
 * <pre>
 *   tokens  list&lt;item: int32 not null&gt; not null   token ids, EOS appended (BOS first when configured)
 *   doc_id  utf8 not null                          the prepare job's document id
 *   lang    utf8 not null                          en | zh | code | other
 * </pre>
 * {@code tokens} is the first column so its buffers come first in every record batch: the reader finds the
 * offsets and values buffers at fixed indexes (see {@link #TOKEN_OFFSETS_BUFFER}). Schema metadata carries the
 * format version and the tokenizer's SHA-256, so a shard alone says what it is.
 */
public final class ShardSchema {

    public static final String FORMAT = "sparkmoe-token-shards";
    public static final int FORMAT_VERSION = 1;

    public static final String TOKENS = "tokens";
    public static final String DOC_ID = "doc_id";
    public static final String LANG = "lang";

    public static final String META_FORMAT = "sparkmoe.format";
    public static final String META_FORMAT_VERSION = "sparkmoe.format_version";
    public static final String META_TOKENIZER_SHA256 = "sparkmoe.tokenizer_sha256";
    public static final String META_EOS_ID = "sparkmoe.eos_id";

    /** Buffer order in a record batch: tokens validity, tokens offsets, item validity, item values, then the rest. */
    static final int TOKEN_OFFSETS_BUFFER = 1;
    static final int TOKEN_VALUES_BUFFER = 3;
    static final int BUFFER_COUNT = 10;

    private ShardSchema() {}

    public static Schema schema(String tokenizerSha256, int eosId) {
        Field item = new Field("item", FieldType.notNullable(new ArrowType.Int(32, true)), null);
        Field tokens = new Field(TOKENS, FieldType.notNullable(ArrowType.List.INSTANCE), List.of(item));
        Field docId = new Field(DOC_ID, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null);
        Field lang = new Field(LANG, FieldType.notNullable(ArrowType.Utf8.INSTANCE), null);
        Map<String, String> metadata = Map.of(
                META_FORMAT, FORMAT,
                META_FORMAT_VERSION, Integer.toString(FORMAT_VERSION),
                META_TOKENIZER_SHA256, tokenizerSha256,
                META_EOS_ID, Integer.toString(eosId));
        return new Schema(List.of(tokens, docId, lang), metadata);
    }
}
