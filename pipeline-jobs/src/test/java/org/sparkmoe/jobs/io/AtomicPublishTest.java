package org.sparkmoe.jobs.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.MiniHdfs;

/** Publishing (directories, files, local files) and input expansion on a real HDFS and a local disk. */
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
    void aFileIsReplacedWholeAndAFailedWriteLeavesTheOldOne() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        Path file = new Path("/files/report.json");
        AtomicPublish.writeFile(fs, file, out -> out.write("first".getBytes(StandardCharsets.UTF_8)));
        AtomicPublish.writeFile(fs, file, out -> out.write("second".getBytes(StandardCharsets.UTF_8)));
        assertEquals("second", read(fs, file));
        IOException failed = assertThrows(IOException.class, () -> AtomicPublish.writeFile(fs, file, out -> {
            out.write("half".getBytes(StandardCharsets.UTF_8));
            throw new IOException("the writer failed midway");
        }));
        assertEquals("the writer failed midway", failed.getMessage());
        assertEquals("second", read(fs, file));
        assertEquals(1, fs.listStatus(new Path("/files")).length, "no staging or old file is left beside it");
    }

    @Test
    void aNewFileIsNeverPublishedOverAnExistingOne() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        Path file = new Path("/versions/v00001.json");
        assertTrue(AtomicPublish.writeNewFile(fs, file, out -> out.write("mine".getBytes(StandardCharsets.UTF_8))));
        assertFalse(AtomicPublish.writeNewFile(fs, file, out -> out.write("theirs".getBytes(StandardCharsets.UTF_8))));
        assertEquals("mine", read(fs, file));
        assertEquals(1, fs.listStatus(new Path("/versions")).length, "the refused staging file was removed");
    }

    @Test
    void localFilesAreReplacedOrCreatedOnlyOnceWithoutSideFiles(@TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path lock = dir.resolve("locks/lock.json");
        assertTrue(AtomicPublish.createLocalFile(lock, "a".getBytes(StandardCharsets.UTF_8)));
        assertFalse(AtomicPublish.createLocalFile(lock, "b".getBytes(StandardCharsets.UTF_8)));
        assertEquals("a", Files.readString(lock));
        AtomicPublish.writeLocalFile(lock, "c".getBytes(StandardCharsets.UTF_8));
        assertEquals("c", Files.readString(lock));
        try (Stream<java.nio.file.Path> files = Files.list(lock.getParent())) {
            assertEquals(List.of(lock), files.toList(), "no staging or .crc file is left");
        }
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
