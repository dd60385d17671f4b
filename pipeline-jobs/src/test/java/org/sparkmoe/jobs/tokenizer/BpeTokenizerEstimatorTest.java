package org.sparkmoe.jobs.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.tokenizer.Tokenizer;

/** The Spark ML estimator/model pair: fit, transform, and Pipeline persistence. */
class BpeTokenizerEstimatorTest {

    @Test
    void fitsTransformsAndSurvivesPipelineSaveAndLoad(@TempDir Path dir) throws Exception {
        SparkSession spark = LocalSpark.get();
        Dataset<Row> docs = spark.read().json(org.sparkmoe.jobs.testing.SharedData.validationCorpus()
                .resolve("en.jsonl").toUri().toString()).select("text");
        BpeTokenizerEstimator estimator = new BpeTokenizerEstimator().setVocabSize(600).setOutputCol("tokens");
        Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {estimator});
        PipelineModel fitted = pipeline.fit(docs);
        BpeTokenizerModel model = (BpeTokenizerModel) fitted.stages()[0];
        Tokenizer tokenizer = model.tokenizer();
        assertEquals(600, tokenizer.vocabSize());

        Dataset<Row> out = fitted.transform(docs.limit(5));
        List<Row> rows = out.collectAsList();
        for (Row r : rows) {
            List<Integer> ids = r.getList(r.fieldIndex("tokens"));
            int[] expected = tokenizer.encode(r.getString(0), true);
            assertArrayEquals(expected, ids.stream().mapToInt(Integer::intValue).toArray());
        }

        String path = dir.resolve("pipeline").toUri().toString();
        fitted.write().overwrite().save(path);
        PipelineModel loaded = PipelineModel.load(path);
        List<Row> again = loaded.transform(docs.limit(5)).collectAsList();
        assertEquals(rows, again);
        BpeTokenizerModel loadedModel = (BpeTokenizerModel) loaded.stages()[0];
        assertEquals(tokenizer.toJson(), loadedModel.tokenizer().toJson());
        assertEquals("tokens", loadedModel.getOrDefault(loadedModel.outputCol()));

        String estimatorPath = dir.resolve("estimator").toUri().toString();
        estimator.write().overwrite().save(estimatorPath);
        assertEquals(600, (int) BpeTokenizerEstimator.load(estimatorPath).getOrDefault(
                BpeTokenizerEstimator.load(estimatorPath).vocabSize()));

        Dataset<Row> withNull = spark.sql("SELECT CAST(NULL AS STRING) AS text");
        assertNull(model.transform(withNull).collectAsList().get(0).get(1));
    }

    @Test
    void refusesAMissingOrNonStringColumn() {
        SparkSession spark = LocalSpark.get();
        Dataset<Row> numbers = spark.sql("SELECT 1 AS text");
        assertThrows(IllegalArgumentException.class, () -> new BpeTokenizerEstimator().fit(numbers));
        assertThrows(IllegalArgumentException.class,
                () -> new BpeTokenizerEstimator().setInputCol("body").fit(numbers));
    }
}
