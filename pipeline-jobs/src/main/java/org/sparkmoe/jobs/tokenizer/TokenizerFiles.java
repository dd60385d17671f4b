package org.sparkmoe.jobs.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * Loads a tokenizer.json from any Hadoop filesystem URI or local path, and looks up the tokens a job names, with
 * errors that say what to fix.
 */
public final class TokenizerFiles {

    private TokenizerFiles() {}

    public static Tokenizer load(String location) {
        return load(location, new Configuration());
    }

    /** Loads through {@code conf} (a job's Hadoop configuration, with its {@code spark.hadoop.*} settings). */
    public static Tokenizer load(String location, Configuration conf) {
        Path path = new Path(location);
        String json;
        try {
            FileSystem fs = path.getFileSystem(conf);
            if (!fs.exists(path)) {
                throw new UsageException("tokenizer " + location + " does not exist: give the path of a"
                        + " tokenizer.json (train-tokenizer writes one)");
            }
            try (InputStream in = fs.open(path)) {
                json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new UsageException("cannot read tokenizer " + location + ": " + e.getMessage(), e);
        }
        try {
            return Tokenizer.fromJson(json);
        } catch (IllegalArgumentException e) {
            throw new UsageException("tokenizer " + location + " cannot be used: " + e.getMessage(), e);
        }
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
