package org.sparkmoe.jobs.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.io.FileHashes;
import org.sparkmoe.jobs.testing.MiniHdfs;
import org.sparkmoe.jobs.testing.SharedData;
import org.sparkmoe.tokenizer.Tokenizer;

/** Loading, hashing and checking a tokenizer.json from HDFS, with DeepSeek-V3's tokenizer. */
class TokenizerJsonTest {

    private static MiniHdfs hdfs;
    private static FileSystem fs;
    private static byte[] bytes;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
        fs = hdfs.fileSystem();
        bytes = Files.readAllBytes(SharedData.deepseekV3Tokenizer());
        write("/tokenizers/v3/tokenizer.json", bytes);
        // The same vocabulary in other bytes: another tokenizer file.
        byte[] spaced = new byte[bytes.length + 1];
        spaced[0] = ' ';
        System.arraycopy(bytes, 0, spaced, 1, bytes.length);
        write("/tokenizers/spaced/tokenizer.json", spaced);
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    @Test
    void theHashIsTheFileHashAndEqualsTheHashOfTheTextAsUtf8() throws Exception {
        String location = hdfs.uri("/tokenizers/v3/tokenizer.json");
        TokenizerJson file = TokenizerJson.read(location, fs.getConf());
        assertEquals(FileHashes.sha256(new Path(location), fs.getConf()), file.sha256());
        // Earlier manifests hold the hash of the text re-encoded as UTF-8: for an accepted file, the same value.
        assertEquals(FileHashes.sha256(new String(bytes, StandardCharsets.UTF_8).getBytes(StandardCharsets.UTF_8)),
                file.sha256());
        assertEquals(file.sha256(), TokenizerJson.of("in memory", file.json()).sha256());
        Tokenizer tokenizer = file.tokenizer();
        assertArrayEquals(Tokenizer.load(SharedData.deepseekV3Tokenizer()).encode("Hello, 世界"),
                tokenizer.encode("Hello, 世界"));
        assertSame(tokenizer, TokenizerJson.read(location, fs.getConf()).tokenizer(), "parsed once per JVM");
        assertSame(tokenizer, TokenizerJson.of("in memory", file.json()).tokenizer(), "one cache for every caller");
    }

    @Test
    void aTokenizerOfAnotherHashIsRefusedNamingBothFilesAndWhatToDo() throws Exception {
        TokenizerJson expected = TokenizerJson.read(hdfs.uri("/tokenizers/v3/tokenizer.json"), fs.getConf());
        String other = hdfs.uri("/tokenizers/spaced/tokenizer.json");
        TokenizerJson given = TokenizerJson.read(other, fs.getConf());
        assertSame(given, given.requireSha256(given.sha256(), other, "dataset d"));
        UsageException e = assertThrows(UsageException.class,
                () -> given.requireSha256(expected.sha256(), expected.location(), "dataset hdfs://nn/datasets/d/v1"));
        String message = e.getMessage();
        assertTrue(message.contains(other) && message.contains(given.sha256()), message);
        assertTrue(message.contains(expected.location()) && message.contains(expected.sha256()), message);
        assertTrue(message.contains("dataset hdfs://nn/datasets/d/v1") && message.contains("--tokenizer "
                + expected.location()), message);
    }

    @Test
    void aMissingFileOrOneThatIsNotUtf8IsAUsageError() throws Exception {
        String missing = hdfs.uri("/tokenizers/none/tokenizer.json");
        UsageException absent = assertThrows(UsageException.class, () -> TokenizerJson.read(missing, fs.getConf()));
        assertTrue(absent.getMessage().contains(missing), absent.getMessage());

        byte[] latin1 = "{\"model\": \"caf\u00e9\"}".getBytes(StandardCharsets.ISO_8859_1);
        write("/tokenizers/latin1/tokenizer.json", latin1);
        String location = hdfs.uri("/tokenizers/latin1/tokenizer.json");
        UsageException notUtf8 = assertThrows(UsageException.class, () -> TokenizerJson.read(location, fs.getConf()));
        assertTrue(notUtf8.getMessage().contains(location) && notUtf8.getMessage().contains("UTF-8"),
                notUtf8.getMessage());

        write("/tokenizers/broken/tokenizer.json", "{\"model\": {}}".getBytes(StandardCharsets.UTF_8));
        String broken = hdfs.uri("/tokenizers/broken/tokenizer.json");
        UsageException unusable = assertThrows(UsageException.class,
                () -> TokenizerJson.read(broken, fs.getConf()).tokenizer());
        assertTrue(unusable.getMessage().contains(broken), unusable.getMessage());
    }

    private static void write(String path, byte[] content) throws Exception {
        try (OutputStream out = fs.create(new Path(path))) {
            out.write(content);
        }
    }
}
