package org.sparkmoe.jobs.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The one hash of a file: SHA-256 of its raw bytes, as lower-case hex. Manifests record it for token shards and for
 * the tokenizer.json a dataset was made with, refresh records it for its input files, and every check compares
 * values made here. Files are read through the raw filesystem (a local file's {@code .crc} side file plays no
 * part: the hash is itself the check).
 */
public final class FileHashes {

    private static final int BUFFER_BYTES = 1 << 20;

    private FileHashes() {}

    /** SHA-256 of the file at {@code file} (any Hadoop URI). */
    public static String sha256(Path file, Configuration conf) throws IOException {
        return sha256(file.getFileSystem(conf), file);
    }

    /** SHA-256 of the file at {@code file} on {@code fs}. */
    public static String sha256(FileSystem fs, Path file) throws IOException {
        FileSystem raw = RawFileSystems.of(fs);
        MessageDigest digest = newDigest();
        byte[] buffer = new byte[BUFFER_BYTES];
        try (InputStream in = raw.open(fs.makeQualified(file))) {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** SHA-256 of bytes held in memory (a file's content read whole, or a synthetic identity string's bytes). */
    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(newDigest().digest(bytes));
    }

    /** An output stream that hashes what passes through it: a writer gets its file's hash without re-reading it. */
    public static DigestOutputStream hashing(OutputStream out) {
        return new DigestOutputStream(out, newDigest());
    }

    /** The hash of everything written through {@code out} (made by {@link #hashing}) so far; resets it. */
    public static String sha256(DigestOutputStream out) {
        return HexFormat.of().formatHex(out.getMessageDigest().digest());
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256 (every Java SE runtime must provide it)", e);
        }
    }
}
