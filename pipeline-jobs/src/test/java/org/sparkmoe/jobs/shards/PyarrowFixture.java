package org.sparkmoe.jobs.shards;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * Makes the input of scripts/gpu/check_pyarrow_shards.py: a small dataset tokenized from corpus samples, plus
 * {@code expected.json} with what this project's reader returns for some packed sequences and the source text of
 * every document, so pyarrow (and HF tokenizers) on the GPU machine can check the same shards independently.
 *
 * <pre>  java ... org.sparkmoe.jobs.shards.PyarrowFixture OUT_DIR</pre>
 */
public final class PyarrowFixture {

    private static final int SEQ_LEN = 256;

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]).toAbsolutePath();
        Files.createDirectories(out);
        SparkSession spark = LocalSpark.get();
        Map<String, Integer> files = new LinkedHashMap<>();
        files.put("en_fortunes.jsonl", 150);
        files.put("zh_poetry_fortunes.jsonl", 60);
        files.put("code.jsonl", 2);
        PreparedCorpusFixture corpus = PreparedCorpusFixture.write(spark, out.resolve("prepare").toUri().toString(), files);
        Map<String, String> settings = new LinkedHashMap<>(JobSettings.resolve(new TokenizeJob(),
                List.of("--input", "x", "--tokenizer", "x", "--output", "x")).asMap());
        settings.put("input", out.resolve("prepare").toUri().toString());
        settings.put("tokenizer", SharedData.deepseekV3Tokenizer().toUri().toString());
        settings.put("output", out.resolve("dataset").toUri().toString());
        settings.put("mixture.shares", "en:0.6,zh:0.4");
        settings.put("validation-ratio", "0.05");
        settings.put("shard.size-mb", "0.02");
        settings.put("shard.batch-tokens", "4096");
        TokenizeJob.tokenize(spark, TokenizeConfig.from(JobSettings.of("tokenize", settings)));

        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("seq_len", SEQ_LEN);
        Map<String, int[]> sequences = new LinkedHashMap<>();
        try (TokenDataset ds = TokenDataset.open(out.resolve("dataset/v1").toUri().toString(), Manifest.TRAIN, SEQ_LEN,
                new Configuration())) {
            for (long i : new long[] {0, 1, ds.sequenceCount() / 2, ds.sequenceCount() - 1}) {
                int[] seq = new int[SEQ_LEN + 1];
                ds.readSequence(i, seq, 0);
                sequences.put(Long.toString(i), seq);
            }
            expected.put("sequence_count", ds.sequenceCount());
        }
        expected.put("sequences", sequences);
        Map<String, String> texts = new LinkedHashMap<>();
        corpus.documents.forEach((id, row) -> texts.put(id, row.getString(3)));
        expected.put("texts", texts);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("expected.json").toFile(),
                expected);
        spark.stop();
    }

    private PyarrowFixture() {}
}
