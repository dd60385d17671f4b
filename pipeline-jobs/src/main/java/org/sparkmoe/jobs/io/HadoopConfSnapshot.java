package org.sparkmoe.jobs.io;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;

/**
 * The driver's Hadoop configuration as a serialisable map, so executor tasks open filesystems with the same
 * settings (for example {@code spark.hadoop.*} credentials and HDFS addresses) that the driver used.
 */
public final class HadoopConfSnapshot implements Serializable {

    private final Map<String, String> entries = new TreeMap<>();

    public HadoopConfSnapshot(Configuration conf) {
        conf.forEach(e -> entries.put(e.getKey(), e.getValue()));
    }

    public Configuration toConfiguration() {
        Configuration conf = new Configuration(false);
        entries.forEach(conf::set);
        return conf;
    }
}
