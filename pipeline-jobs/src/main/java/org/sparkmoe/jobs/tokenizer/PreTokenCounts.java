package org.sparkmoe.jobs.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.sparkmoe.tokenizer.hf.TokenizerJsonReader;
import org.sparkmoe.tokenizer.hf.TokenizerJsonWriter;
import org.sparkmoe.tokenizer.pretokenize.PreTokenizer;
import org.sparkmoe.tokenizer.train.PreTokenCounter;
import scala.Tuple2;

/**
 * Counts pre-tokens over a text column on Spark: each partition counts into a local map (the map-side combine;
 * a partition emits each distinct piece once), then {@code reduceByKey} sums across partitions, and the driver
 * collects the totals for the BPE trainer. Rules travel to executors as their JSON text.
 */
final class PreTokenCounts {

    private PreTokenCounts() {}

    /** Piece text → occurrences over every non-null string of {@code texts}. */
    static Map<String, Long> count(Dataset<String> texts, PreTokenizer rules) {
        String rulesJson = TokenizerJsonWriter.preTokenizerJson(rules);
        JavaPairRDD<String, Long> perPiece = texts.javaRDD().mapPartitionsToPair(it -> {
            PreTokenCounter counter = new PreTokenCounter(TokenizerJsonReader.preTokenizer(rulesJson));
            while (it.hasNext()) {
                String text = it.next();
                if (text != null) {
                    counter.add(text);
                }
            }
            List<Tuple2<String, Long>> out = new ArrayList<>(counter.counts().size());
            counter.counts().forEach((piece, n) -> out.add(new Tuple2<>(piece, n)));
            return out.iterator();
        }).reduceByKey(Long::sum);
        return perPiece.collectAsMap();
    }

    static Dataset<String> column(Dataset<?> data, String column) {
        return data.select(column).as(Encoders.STRING());
    }
}
