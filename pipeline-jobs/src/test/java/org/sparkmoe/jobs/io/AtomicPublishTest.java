package org.sparkmoe.jobs.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.MiniHdfs;

/** Publishing and input expansion on a real HDFS. */
class AtomicPublishTest {

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
    void commitReplacesThePreviousOutputAndLeavesNoStaging() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        String target = hdfs.uri("/publish/out");
        publish(target, "first");
        publish(target, "second");
        assertEquals("second", read(fs, new Path(target, "data.txt")));
        assertEquals(1, fs.listStatus(new Path("/publish")).length, "only the published directory is left");
    }

    @Test
    void aFailedJobLeavesThePreviousOutputIntact() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        String target = hdfs.uri("/failing/out");
        publish(target, "good");
        assertThrows(IllegalStateException.class, () -> {
            try (AtomicPublish p = AtomicPublish.begin(fs.getConf(), target)) {
                write(fs, new Path(p.staging(), "data.txt"), "half-written");
                throw new IllegalStateException("the job failed before commit");
            }
        });
        assertEquals("good", read(fs, new Path(target, "data.txt")));
        assertEquals(1, fs.listStatus(new Path("/failing")).length, "the staging directory was removed");
    }

    @Test
    void expandsDirectoriesAndGlobsSkippingHiddenFiles() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        write(fs, new Path("/in/a/one.jsonl"), "{}");
        write(fs, new Path("/in/a/_SUCCESS"), "");
        write(fs, new Path("/in/a/.hidden"), "");
        write(fs, new Path("/in/b/two.jsonl"), "{}");
        List<InputFiles.InputFile> files = InputFiles.expand(fs.getConf(), List.of(hdfs.uri("/in/a"), hdfs.uri("/in/b/*.jsonl")));
        assertEquals(List.of(hdfs.uri("/in/a/one.jsonl"), hdfs.uri("/in/b/two.jsonl")),
                files.stream().map(InputFiles.InputFile::uri).toList());
        UsageException missing = assertThrows(UsageException.class,
                () -> InputFiles.expand(fs.getConf(), List.of(hdfs.uri("/in/nothing-*.jsonl"))));
        assertTrue(missing.getMessage().contains("/in/nothing-*.jsonl"), missing.getMessage());
        assertFalse(missing.getMessage().isBlank());
    }

    private static void publish(String target, String content) throws IOException {
        FileSystem fs = hdfs.fileSystem();
        try (AtomicPublish p = AtomicPublish.begin(fs.getConf(), target)) {
            write(fs, new Path(p.staging(), "data.txt"), content);
            p.commit();
        }
    }

    private static void write(FileSystem fs, Path path, String content) throws IOException {
        try (OutputStream out = fs.create(path, true)) {
            out.write(content.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static String read(FileSystem fs, Path path) throws IOException {
        try (InputStream in = fs.open(path)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
