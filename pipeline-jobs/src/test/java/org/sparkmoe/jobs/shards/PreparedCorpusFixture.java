package org.sparkmoe.jobs.shards;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * A stand-in for the prepare job's {@code kept/} output, made from the first documents of some ../shared/corpus
 * files: same columns (id, source, lang, text), with {@code lang} taken from the corpus's {@code lang_hint} (the
 * real prepare job detects the language; the hint is good enough to test tokenize).
 */
final class PreparedCorpusFixture {

    /** Documents by id, in file order, as written. */
    final Map<String, Row> documents = new LinkedHashMap<>();

    /** Writes {@code <dir>/kept/} Parquet with the first {@code perFile} documents of each named train file. */
    static PreparedCorpusFixture write(SparkSession spark, String dir, Map<String, Integer> perFile) throws IOException {
        PreparedCorpusFixture fixture = new PreparedCorpusFixture();
        ObjectMapper json = new ObjectMapper();
        List<Row> rows = new ArrayList<>();
        for (Map.Entry<String, Integer> file : perFile.entrySet()) {
            try (BufferedReader in = Files.newBufferedReader(SharedData.trainCorpus().resolve(file.getKey()))) {
                String line;
                for (int n = 0; n < file.getValue() && (line = in.readLine()) != null; n++) {
                    JsonNode doc = json.readTree(line);
                    Row row = RowFactory.create(doc.get("id").asText(), doc.get("source").asText(),
                            doc.get("lang_hint").asText(), doc.get("text").asText());
                    rows.add(row);
                    fixture.documents.put(row.getString(0), row);
                }
            }
        }
        StructType schema = new StructType()
                .add("id", DataTypes.StringType).add("source", DataTypes.StringType)
                .add("lang", DataTypes.StringType).add("text", DataTypes.StringType);
        spark.createDataFrame(rows, schema).repartition(3).write().parquet(dir + "/kept");
        return fixture;
    }
}
