package org.sparkmoe.jobs.tokenizer;

import java.util.List;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.types.StructType;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.pretokenize.DeepSeekRules;
import org.sparkmoe.tokenizer.train.BpeTrainer;
import org.sparkmoe.tokenizer.train.TrainerConfig;

/**
 * Spark ML estimator: {@code fit} learns a byte-level BPE tokenizer from a string column (pre-tokens counted on
 * Spark, merges on the driver, DeepSeek's rules and special tokens) and returns a {@link BpeTokenizerModel}.
 * Saves and loads with Spark ML persistence, so it can be a stage of a {@code Pipeline}.
 */
public final class BpeTokenizerEstimator extends Estimator<BpeTokenizerModel> implements DefaultParamsWritable {

    private static final long serialVersionUID = 1L;

    private final String uid;
    private final Param<String> inputCol;
    private final Param<String> outputCol;
    private final BooleanParam addSpecialTokens;
    private final IntParam vocabSize;
    private final LongParam minFrequency;

    public BpeTokenizerEstimator() {
        this(Identifiable.randomUID("bpeTokenizer"));
    }

    public BpeTokenizerEstimator(String uid) {
        this.uid = uid;
        inputCol = BpeTokenizerParams.inputCol(uid);
        outputCol = BpeTokenizerParams.outputCol(uid);
        addSpecialTokens = BpeTokenizerParams.addSpecialTokens(uid);
        vocabSize = new IntParam(uid, "vocabSize",
                "tokens in the result, the 256 bytes and the 3 special tokens included", ParamValidators.gtEq(259));
        minFrequency = new LongParam(uid, "minFrequency", "pairs seen fewer times are never merged",
                ParamValidators.gtEq(1));
        setDefault(inputCol, "text");
        setDefault(outputCol, "ids");
        setDefault(addSpecialTokens, true);
        setDefault(vocabSize, 8000);
        setDefault(minFrequency, 2L);
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

    public IntParam vocabSize() {
        return vocabSize;
    }

    public LongParam minFrequency() {
        return minFrequency;
    }

    public BpeTokenizerEstimator setInputCol(String value) {
        set(inputCol, value);
        return this;
    }

    public BpeTokenizerEstimator setOutputCol(String value) {
        set(outputCol, value);
        return this;
    }

    public BpeTokenizerEstimator setVocabSize(int value) {
        set(vocabSize, value);
        return this;
    }

    public BpeTokenizerEstimator setMinFrequency(long value) {
        set(minFrequency, value);
        return this;
    }

    public BpeTokenizerEstimator setAddSpecialTokens(boolean value) {
        set(addSpecialTokens, value);
        return this;
    }

    @Override
    public BpeTokenizerModel fit(Dataset<?> dataset) {
        transformSchema(dataset.schema());
        int vocab = (Integer) $(vocabSize);
        long minCount = (Long) $(minFrequency);
        TrainerConfig config = new TrainerConfig(vocab, minCount,
                List.of(TrainerConfig.BOS, TrainerConfig.EOS, TrainerConfig.PAD), TrainerConfig.BOS, TrainerConfig.EOS,
                DeepSeekRules.preTokenizer());
        Tokenizer tokenizer = BpeTrainer.train(
                PreTokenCounts.count(PreTokenCounts.column(dataset, $(inputCol)), config.preTokenizer()), config);
        BpeTokenizerModel model = new BpeTokenizerModel(uid, TokenizerJson.of("estimator " + uid, tokenizer.toJson()));
        copyValues(model, extractParamMap());
        return model.setParent(this);
    }

    @Override
    public StructType transformSchema(StructType schema) {
        return BpeTokenizerParams.outputSchema(schema, $(inputCol), $(outputCol));
    }

    @Override
    public BpeTokenizerEstimator copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    public static MLReader<BpeTokenizerEstimator> read() {
        return new DefaultParamsReader<>();
    }

    public static BpeTokenizerEstimator load(String path) {
        return read().load(path);
    }
}
