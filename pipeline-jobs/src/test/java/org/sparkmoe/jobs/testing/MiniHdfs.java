package org.sparkmoe.jobs.testing;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * A real single-datanode HDFS (hadoop-client-minicluster) for tests: start one per test class, stop it in
 * {@code @AfterAll}. {@link #uri(String)} gives {@code hdfs://localhost:PORT/path} URIs that jobs read and write
 * exactly as they would on a cluster.
 */
public final class MiniHdfs implements AutoCloseable {

    private final MiniDFSCluster cluster;
    private final File baseDir;

    private MiniHdfs(MiniDFSCluster cluster, File baseDir) {
        this.cluster = cluster;
        this.baseDir = baseDir;
    }

    public static MiniHdfs start() throws IOException {
        File base = Files.createTempDirectory("sparkmoe-minidfs").toFile();
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getAbsolutePath());
        // Small blocks make multi-block files (and so split reads) out of test-sized data.
        conf.setLong("dfs.blocksize", 4L * 1024 * 1024);
        conf.setInt("dfs.replication", 1);
        MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).format(true).build();
        cluster.waitActive();
        return new MiniHdfs(cluster, base);
    }

    /** {@code hdfs://host:port} of the namenode. */
    public String root() {
        return "hdfs://localhost:" + cluster.getNameNodePort();
    }

    /** A URI on this HDFS for an absolute path such as {@code /corpus/en.jsonl}. */
    public String uri(String absolutePath) {
        return root() + absolutePath;
    }

    public FileSystem fileSystem() throws IOException {
        return cluster.getFileSystem();
    }

    @Override
    public void close() {
        cluster.shutdown(true);
        deleteRecursively(baseDir);
    }

    private static void deleteRecursively(File f) {
        File[] children = f.listFiles();
        if (children != null) {
            for (File c : children) {
                deleteRecursively(c);
            }
        }
        f.delete();
    }
}
