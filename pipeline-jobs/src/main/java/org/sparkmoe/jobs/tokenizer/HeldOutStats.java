package org.sparkmoe.jobs.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.sparkmoe.tokenizer.Tokenizer;
import scala.Tuple2;

/** Bytes per token by language: held-out documents encoded on the executors, summed per language. */
final class HeldOutStats {

    private HeldOutStats() {}

    /** lang → {documents, UTF-8 bytes, tokens} over rows (lang, text). */
    static Map<String, long[]> measure(Dataset<Row> langText, TokenizerJson tokenizerJson) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(langText.sparkSession().sparkContext());
        Broadcast<TokenizerJson> json = jsc.broadcast(tokenizerJson);
        Map<String, long[]> collected = langText.javaRDD().mapPartitionsToPair(rows -> {
            Tokenizer tokenizer = json.value().tokenizer();
            Map<String, long[]> local = new HashMap<>();
            while (rows.hasNext()) {
                Row r = rows.next();
                String lang = r.isNullAt(0) ? "unknown" : r.getString(0);
                String text = r.getString(1);
                long[] st = local.computeIfAbsent(lang, k -> new long[3]);
                st[0]++;
                st[1] += text.getBytes(StandardCharsets.UTF_8).length;
                st[2] += tokenizer.encode(text).length;
            }
            List<Tuple2<String, long[]>> out = new ArrayList<>();
            local.forEach((k, v) -> out.add(new Tuple2<>(k, v)));
            return out.iterator();
        }).reduceByKey((a, b) -> new long[] {a[0] + b[0], a[1] + b[1], a[2] + b[2]}).collectAsMap();
        json.destroy();
        return new TreeMap<>(collected);
    }
}
