package org.sparkmoe.jobs.prepare;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.countDistinct;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * {@code report.json}: what went in, what was kept and why the rest was rejected. Everything in it is derived
 * from the final documents table, so it always agrees with kept/ and rejected/; it holds no timings (those go to
 * the log) so that a rerun writes the same bytes. Fields are listed in docs/prepare.md.
 */
final class PrepareReport {

    private PrepareReport() {}

    static String build(Dataset<Row> documents, List<String> inputFiles, NearDedup.Stats near,
                        PrepareConfig config, Map<String, String> settings) throws Exception {
        Map<String, Object> report = new LinkedHashMap<>();
        Map<String, long[]> byStageReason = new TreeMap<>();
        Map<String, long[]> keptByLang = new TreeMap<>();
        for (Row r : documents.groupBy(col(PrepareSchema.STAGE), col(PrepareSchema.REASON),
                        coalesce(col(PrepareSchema.LANG), lit("none")).as("lang"))
                .agg(count("*").as("n"), sum(PrepareSchema.BYTES).as("bytes"))
                .collectAsList()) {
            String stage = r.getString(0);
            long[] nb = {r.getLong(3), r.getLong(4)};
            if (stage == null) {
                add(keptByLang, r.getString(2), nb);
            } else {
                add(byStageReason, stage + "\u0000" + r.getString(1), nb);
            }
        }
        long keptRecords = 0;
        long keptBytes = 0;
        for (long[] nb : keptByLang.values()) {
            keptRecords += nb[0];
            keptBytes += nb[1];
        }
        Map<String, Long> rejectedByStage = new LinkedHashMap<>();
        Map<String, Long> rejectedByReason = new TreeMap<>();
        Map<String, Map<String, Long>> rejectedByStageAndReason = new LinkedHashMap<>();
        long rejectedRecords = 0;
        long rejectedBytes = 0;
        for (String stage : PrepareSchema.STAGES) {
            rejectedByStage.put(stage, 0L);
            rejectedByStageAndReason.put(stage, new TreeMap<>());
        }
        for (Map.Entry<String, long[]> e : byStageReason.entrySet()) {
            String[] parts = e.getKey().split("\u0000", 2);
            long n = e.getValue()[0];
            rejectedByStage.merge(parts[0], n, Long::sum);
            rejectedByReason.merge(parts[1], n, Long::sum);
            rejectedByStageAndReason.get(parts[0]).merge(parts[1], n, Long::sum);
            rejectedRecords += n;
            rejectedBytes += e.getValue()[1];
        }
        long recordsIn = keptRecords + rejectedRecords;
        long bytesIn = keptBytes + rejectedBytes;

        Row groups = documents.agg(
                countDistinct(org.apache.spark.sql.functions.when(
                        col(PrepareSchema.STAGE).equalTo(PrepareSchema.STAGE_EXACT_DEDUP),
                        col(PrepareSchema.DUPLICATE_OF))).as("exact"),
                countDistinct(org.apache.spark.sql.functions.when(
                        col(PrepareSchema.STAGE).equalTo(PrepareSchema.STAGE_NEAR_DEDUP),
                        col(PrepareSchema.DUPLICATE_OF))).as("near")).first();

        report.put("records_in", recordsIn);
        report.put("bytes_in", bytesIn);
        report.put("records_kept", keptRecords);
        report.put("bytes_kept", keptBytes);
        report.put("records_rejected", rejectedRecords);
        report.put("bytes_rejected", rejectedBytes);
        report.put("kept_by_lang", counts(keptByLang, 0));
        report.put("kept_bytes_by_lang", counts(keptByLang, 1));
        report.put("rejected_by_stage", rejectedByStage);
        report.put("rejected_by_reason", rejectedByReason);
        report.put("rejected_by_stage_and_reason", rejectedByStageAndReason);
        Map<String, Object> dedup = new LinkedHashMap<>();
        dedup.put("exact_duplicate_groups", groups.getLong(0));
        dedup.put("exact_duplicates_removed", rejectedByStage.get(PrepareSchema.STAGE_EXACT_DEDUP));
        dedup.put("near_duplicate_groups", groups.getLong(1));
        dedup.put("near_duplicates_removed", rejectedByStage.get(PrepareSchema.STAGE_NEAR_DEDUP));
        dedup.put("lsh_buckets_with_candidates", near.bucketsWithCandidates());
        dedup.put("candidate_edges", near.candidateEdges());
        dedup.put("verified_edges", near.verifiedEdges());
        dedup.put("shingle_size", config.shingleSize());
        dedup.put("bands", config.bands());
        dedup.put("rows", config.rows());
        dedup.put("jaccard_threshold", config.jaccardThreshold());
        report.put("duplicate_groups", dedup);
        report.put("inputs", config.inputs());
        report.put("input_files", inputFiles);
        report.put("settings", new TreeMap<>(settings));
        return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report) + "\n";
    }

    private static void add(Map<String, long[]> map, String key, long[] nb) {
        long[] cur = map.computeIfAbsent(key, k -> new long[2]);
        cur[0] += nb[0];
        cur[1] += nb[1];
    }

    private static Map<String, Long> counts(Map<String, long[]> map, int index) {
        Map<String, Long> out = new TreeMap<>();
        map.forEach((k, v) -> out.put(k, v[index]));
        return out;
    }
}
