package org.sparkmoe.jobs.tokenizer;

import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The parameters the estimator and the model share, and the output schema they both promise. Params are made from
 * the owner's uid (not the owner object): a field initialiser runs before the uid is set.
 */
final class BpeTokenizerParams {

    private BpeTokenizerParams() {}

    static Param<String> inputCol(String owner) {
        return new Param<>(owner, "inputCol", "the string column to tokenize");
    }

    static Param<String> outputCol(String owner) {
        return new Param<>(owner, "outputCol", "the array<int> column of token ids to add");
    }

    static BooleanParam addSpecialTokens(String owner) {
        return new BooleanParam(owner, "addSpecialTokens", "add BOS/EOS around each text, as HF's encode does");
    }

    static StructType outputSchema(StructType schema, String input, String output) {
        if (!java.util.Arrays.asList(schema.fieldNames()).contains(input)) {
            throw new IllegalArgumentException("input column '" + input + "' is not in the schema " + schema.simpleString());
        }
        if (!schema.apply(input).dataType().equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("input column '" + input + "' must be a string, not "
                    + schema.apply(input).dataType().simpleString());
        }
        if (java.util.Arrays.asList(schema.fieldNames()).contains(output)) {
            throw new IllegalArgumentException("output column '" + output + "' already exists");
        }
        return schema.add(new StructField(output, DataTypes.createArrayType(DataTypes.IntegerType, false), true,
                org.apache.spark.sql.types.Metadata.empty()));
    }
}
