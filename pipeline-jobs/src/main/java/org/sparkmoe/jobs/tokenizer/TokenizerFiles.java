package org.sparkmoe.jobs.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * Loads a tokenizer.json from any Hadoop filesystem URI or local path, with the job's Hadoop settings, and with
 * errors that say what to fix.
 */
public final class TokenizerFiles {

    private TokenizerFiles() {}

    public static Tokenizer load(String location, Configuration hadoop) {
        Path path = new Path(location);
        String json;
        try {
            FileSystem fs = path.getFileSystem(hadoop);
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
}
