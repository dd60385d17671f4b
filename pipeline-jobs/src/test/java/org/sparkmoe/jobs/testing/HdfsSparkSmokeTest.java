package org.sparkmoe.jobs.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The test harness itself: Spark local mode writes Parquet to a real MiniDFSCluster and reads it back on Java 25. */
class HdfsSparkSmokeTest {

    private static MiniHdfs hdfs;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    @Test
    void sparkRoundTripsParquetThroughHdfs() throws Exception {
        SparkSession spark = LocalSpark.get();
        List<String> words = List.of("alpha", "beta", "gamma", "汉字");
        String out = hdfs.uri("/smoke/words");
        spark.createDataset(words, Encoders.STRING()).toDF("w").repartition(2).write().parquet(out);
        Dataset<Row> back = spark.read().parquet(out);
        assertEquals(4, back.count());
        assertEquals(true, hdfs.fileSystem().exists(new org.apache.hadoop.fs.Path("/smoke/words/_SUCCESS")));
    }
}
