package org.sparkmoe.jobs.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.io.FileHashes;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * A tokenizer.json as every job uses it: where it came from, its text, and its SHA-256, the hash of the file's raw
 * bytes ({@link FileHashes}) that manifests, runs and checkpoints record as the tokenizer's identity. Serialisable:
 * a job ships it to its tasks, which parse it once per JVM ({@link #tokenizer()}).
 *
 * <p>A file that is not UTF-8 is refused: then the hash of its bytes and the hash of its text re-encoded as UTF-8
 * (what manifests of earlier releases recorded) are the same value, so recorded hashes stay comparable.
 *
 * @param location where it was read (a Hadoop URI or local path), or what produced it
 * @param json     the tokenizer.json text
 * @param sha256   lower-case hex SHA-256 of the UTF-8 bytes of {@code json}
 */
public record TokenizerJson(String location, String json, String sha256) implements Serializable {

    /** Reads a tokenizer.json from any Hadoop URI or local path with the job's Hadoop configuration. */
    public static TokenizerJson read(String location, Configuration hadoop) throws IOException {
        Path path = new Path(location);
        FileSystem fs = path.getFileSystem(hadoop);
        if (!fs.exists(path)) {
            throw new UsageException("tokenizer " + location + " does not exist: give the path of a tokenizer.json"
                    + " (train-tokenizer writes one; any Hadoop URI)");
        }
        byte[] bytes;
        try (InputStream in = fs.open(path)) {
            bytes = in.readAllBytes();
        }
        String json;
        try {
            json = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new UsageException("tokenizer " + location + " is not UTF-8 text (" + e.getMessage() + "): a"
                    + " tokenizer.json is UTF-8 JSON; save it as UTF-8", e);
        }
        return new TokenizerJson(location, json, FileHashes.sha256(bytes));
    }

    /** A tokenizer.json held in memory (one just trained); its hash is that of the file it would be written as. */
    public static TokenizerJson of(String origin, String json) {
        return new TokenizerJson(origin, json, FileHashes.sha256(json.getBytes(StandardCharsets.UTF_8)));
    }

    /** The tokenizer, parsed once per JVM and tokenizer ({@link TokenizerCache}); refused if it is not usable. */
    public Tokenizer tokenizer() {
        return TokenizerCache.get(this);
    }

    /**
     * Refuses this tokenizer unless it is the one {@code madeWith} was made with, whose tokenizer.json was
     * {@code expectedLocation} with SHA-256 {@code expectedSha256}.
     *
     * @param madeWith what was made with the expected tokenizer, for the message (e.g. "dataset hdfs://nn/ds/v1")
     */
    public TokenizerJson requireSha256(String expectedSha256, String expectedLocation, String madeWith) {
        if (!sha256.equals(expectedSha256)) {
            throw new UsageException("tokenizer " + location + " (SHA-256 " + sha256 + ") is not the tokenizer "
                    + madeWith + " was made with: that was " + expectedLocation + " (SHA-256 " + expectedSha256
                    + "). Give --tokenizer " + expectedLocation + " or a byte-identical copy of it: the SHA-256 of"
                    + " a tokenizer.json's bytes is the tokenizer's identity");
        }
        return this;
    }

    /** The id of {@code token}, set by option {@code key}; a usage error naming the tokenizer's added tokens if none. */
    public static int requireToken(Tokenizer tokenizer, String token, String key) {
        OptionalInt id = tokenizer.tokenId(token);
        if (id.isEmpty()) {
            throw new UsageException(key + "=" + token + " is not a token of the tokenizer; its added tokens are "
                    + tokenizer.addedTokens().stream().limit(5).map(t -> t.content()).toList() + " ...");
        }
        return id.getAsInt();
    }
}
