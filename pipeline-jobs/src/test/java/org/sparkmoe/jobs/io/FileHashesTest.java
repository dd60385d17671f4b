package org.sparkmoe.jobs.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;

/** The one file hash on a real HDFS and a local disk, over a multi-megabyte file (DeepSeek-V3's tokenizer.json). */
class FileHashesTest {

    private static MiniHdfs hdfs;
    private static byte[] tokenizerBytes;
    private static String expected;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        tokenizerBytes = Files.readAllBytes(SharedData.deepseekV3Tokenizer());
        // The reference, computed here from the bytes with the JDK alone.
        expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(tokenizerBytes));
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    @Test
    void hashesTheRawBytesOfAFileOnHdfsAndOnALocalDisk() throws Exception {
        FileSystem fs = hdfs.fileSystem();
        Path onHdfs = new Path("/tokenizers/tokenizer.json");
        try (OutputStream out = fs.create(onHdfs)) {
            out.write(tokenizerBytes);
        }
        assertEquals(expected, FileHashes.sha256(new Path(hdfs.uri("/tokenizers/tokenizer.json")), fs.getConf()));
        assertEquals(expected, FileHashes.sha256(fs, onHdfs));
        Path local = new Path(SharedData.deepseekV3Tokenizer().toUri());
        assertEquals(expected, FileHashes.sha256(local, new Configuration()));
        assertEquals(expected, FileHashes.sha256(tokenizerBytes));
    }

    @Test
    void aLocalFileIsHashedAsItIsNotAsItsChecksumSideFileSays(@TempDir java.nio.file.Path dir) throws Exception {
        FileSystem local = FileSystem.getLocal(new Configuration());
        Path file = new Path(dir.resolve("shard.arrow").toUri());
        try (OutputStream out = local.create(file)) {
            out.write("before".getBytes(StandardCharsets.UTF_8));
        }
        // Changed behind Hadoop's back: the .crc side file is stale, and the hash must say what the file holds now.
        Files.write(dir.resolve("shard.arrow"), tokenizerBytes);
        assertEquals(expected, FileHashes.sha256(local, file));
    }

    @Test
    void aWriterGetsTheHashOfWhatItWroteWithoutRereading() throws IOException {
        FileSystem fs = hdfs.fileSystem();
        Path file = new Path("/written/shard.arrow");
        String whileWriting;
        try (DigestOutputStream out = FileHashes.hashing(fs.create(file))) {
            out.write(tokenizerBytes, 0, 1000);
            out.write(tokenizerBytes, 1000, tokenizerBytes.length - 1000);
            out.close();
            whileWriting = FileHashes.sha256(out);
        }
        assertEquals(expected, whileWriting);
        assertEquals(whileWriting, FileHashes.sha256(fs, file));
    }

    @Test
    void matchesTheStandardTestVector() {
        // FIPS 180-2, appendix B.1: SHA-256("abc").
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                FileHashes.sha256("abc".getBytes(StandardCharsets.US_ASCII)));
    }
}
