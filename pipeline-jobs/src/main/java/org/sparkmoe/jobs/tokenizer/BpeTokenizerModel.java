package org.sparkmoe.jobs.tokenizer;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.udf;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWriter;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * Spark ML model: {@code transform} turns the string column {@code inputCol} into the {@code array<int>} column
 * {@code outputCol} (null text gives a null array). Persistence: Spark ML metadata plus {@code data/tokenizer.json}
 * (HF format) under the save path.
 */
public final class BpeTokenizerModel extends Model<BpeTokenizerModel> implements MLWritable {

    private static final long serialVersionUID = 1L;
    private static final String DATA_FILE = "data/tokenizer.json";

    private final String uid;
    private final TokenizerJson tokenizerJson;
    private final Param<String> inputCol;
    private final Param<String> outputCol;
    private final BooleanParam addSpecialTokens;

    BpeTokenizerModel(String uid, TokenizerJson tokenizerJson) {
        this.uid = uid;
        this.tokenizerJson = tokenizerJson;
        inputCol = BpeTokenizerParams.inputCol(uid);
        outputCol = BpeTokenizerParams.outputCol(uid);
        addSpecialTokens = BpeTokenizerParams.addSpecialTokens(uid);
        setDefault(inputCol, "text");
        setDefault(outputCol, "ids");
        setDefault(addSpecialTokens, true);
    }

    @Override
    public String uid() {
        return uid;
    }

    public Param<String> inputCol() {
        return inputCol;
    }

    public Param<String> outputCol() {
        return outputCol;
    }

    public BooleanParam addSpecialTokens() {
        return addSpecialTokens;
    }

    public BpeTokenizerModel setInputCol(String value) {
        set(inputCol, value);
        return this;
    }

    public BpeTokenizerModel setOutputCol(String value) {
        set(outputCol, value);
        return this;
    }

    /** The learned tokenizer. */
    public Tokenizer tokenizer() {
        return tokenizerJson.tokenizer();
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        transformSchema(dataset.schema());
        Broadcast<TokenizerJson> json = JavaSparkContext.fromSparkContext(dataset.sparkSession().sparkContext())
                .broadcast(tokenizerJson);
        boolean special = (Boolean) $(addSpecialTokens);
        UserDefinedFunction encode = udf((UDF1<String, int[]>) text ->
                text == null ? null : json.value().tokenizer().encode(text, special),
                DataTypes.createArrayType(DataTypes.IntegerType, false));
        return dataset.withColumn($(outputCol), encode.apply(col($(inputCol))));
    }

    @Override
    public StructType transformSchema(StructType schema) {
        return BpeTokenizerParams.outputSchema(schema, $(inputCol), $(outputCol));
    }

    @Override
    public BpeTokenizerModel copy(ParamMap extra) {
        return copyValues(new BpeTokenizerModel(uid, tokenizerJson), extra).setParent(parent());
    }

    @Override
    public MLWriter write() {
        return new Writer(this);
    }

    @Override
    public void save(String path) throws IOException {
        write().save(path);
    }

    public static MLReader<BpeTokenizerModel> read() {
        return new Reader();
    }

    public static BpeTokenizerModel load(String path) {
        return read().load(path);
    }

    private static final class Writer extends MLWriter {
        private final BpeTokenizerModel model;

        Writer(BpeTokenizerModel model) {
            this.model = model;
        }

        @Override
        public void saveImpl(String path) {
            DefaultParamsWriter.saveMetadata(model, path, sparkSession());
            Path file = new Path(path, DATA_FILE);
            try {
                FileSystem fs = file.getFileSystem(sparkSession().sparkContext().hadoopConfiguration());
                try (OutputStream out = fs.create(file, true)) {
                    out.write(model.tokenizerJson.json().getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
            }
        }
    }

    private static final class Reader extends MLReader<BpeTokenizerModel> {
        @Override
        public BpeTokenizerModel load(String path) {
            DefaultParamsReader.Metadata metadata = DefaultParamsReader.loadMetadata(path, sparkSession(),
                    BpeTokenizerModel.class.getName());
            Path file = new Path(path, DATA_FILE);
            TokenizerJson json;
            try {
                json = TokenizerJson.read(file.toString(), sparkSession().sparkContext().hadoopConfiguration());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
            }
            BpeTokenizerModel model = new BpeTokenizerModel(metadata.uid(), json);
            metadata.getAndSetParams(model, scala.Option.empty());
            return model;
        }
    }
}
