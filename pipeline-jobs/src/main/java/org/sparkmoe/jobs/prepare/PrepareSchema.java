package org.sparkmoe.jobs.prepare;

import static org.apache.spark.sql.types.DataTypes.BinaryType;
import static org.apache.spark.sql.types.DataTypes.DoubleType;
import static org.apache.spark.sql.types.DataTypes.IntegerType;
import static org.apache.spark.sql.types.DataTypes.LongType;
import static org.apache.spark.sql.types.DataTypes.StringType;

import java.util.List;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Column names and the Spark schema of documents inside the job. {@link #KEPT_COLUMNS} is the kept/ contract of
 * docs/architecture.md (id, source, lang, text, then the quality statistics); rejected/ adds
 * {@link #REJECTED_EXTRA}. The {@code _}-prefixed columns are internal and never written.
 */
public final class PrepareSchema {

    private PrepareSchema() {}

    public static final String ID = "id";
    public static final String SOURCE = "source";
    public static final String LANG = "lang";
    public static final String TEXT = "text";
    public static final String LANG_HINT = "lang_hint";
    public static final String LANG_CONFIDENCE = "lang_confidence";
    public static final String MIXEDNESS = "mixedness";
    public static final String CODE_LANGUAGE = "code_language";
    public static final String BYTES = "bytes";
    public static final String CHARS = "chars";
    public static final String WORDS = "words";
    public static final String LINES = "lines";
    public static final String CJK_RATIO = "cjk_ratio";
    public static final String DUP_LINE_FRACTION = "dup_line_fraction";
    public static final String BOILERPLATE_LINES = "boilerplate_lines";
    public static final String STAGE = "stage";
    public static final String REASON = "reason";
    public static final String DUPLICATE_OF = "duplicate_of";
    static final String EXACT_KEY = "_exact_key";
    static final String SIGNATURE = "_signature";
    static final String ORIGIN = "_origin";
    static final String OFFSET = "_offset";

    /** Pipeline stages, in order, as written in {@code stage}. */
    public static final String STAGE_DECODE = "decode";
    public static final String STAGE_CLEAN = "clean";
    public static final String STAGE_LANGUAGE = "language";
    public static final String STAGE_QUALITY = "quality";
    public static final String STAGE_EXACT_DEDUP = "exact_dedup";
    public static final String STAGE_NEAR_DEDUP = "near_dedup";
    public static final List<String> STAGES = List.of(STAGE_DECODE, STAGE_CLEAN, STAGE_LANGUAGE, STAGE_QUALITY,
            STAGE_EXACT_DEDUP, STAGE_NEAR_DEDUP);

    public static final List<String> KEPT_COLUMNS = List.of(ID, SOURCE, LANG, TEXT, LANG_HINT, LANG_CONFIDENCE,
            MIXEDNESS, CODE_LANGUAGE, BYTES, CHARS, WORDS, LINES, CJK_RATIO, DUP_LINE_FRACTION, BOILERPLATE_LINES);
    public static final List<String> REJECTED_EXTRA = List.of(STAGE, REASON, DUPLICATE_OF);

    /** Every column of a processed document, in {@link DocumentPipeline}'s row order. */
    static final StructType DOCUMENT = new StructType(new StructField[] {
            field(ID, StringType), field(SOURCE, StringType), field(LANG, StringType), field(TEXT, StringType),
            field(LANG_HINT, StringType), field(LANG_CONFIDENCE, DoubleType), field(MIXEDNESS, DoubleType),
            field(CODE_LANGUAGE, StringType), field(BYTES, LongType), field(CHARS, IntegerType),
            field(WORDS, IntegerType), field(LINES, IntegerType), field(CJK_RATIO, DoubleType),
            field(DUP_LINE_FRACTION, DoubleType), field(BOILERPLATE_LINES, IntegerType),
            field(STAGE, StringType), field(REASON, StringType), field(DUPLICATE_OF, StringType),
            field(EXACT_KEY, LongType), field(SIGNATURE, BinaryType), field(ORIGIN, StringType),
            field(OFFSET, LongType)});

    private static StructField field(String name, org.apache.spark.sql.types.DataType type) {
        return new StructField(name, type, true, org.apache.spark.sql.types.Metadata.empty());
    }
}
