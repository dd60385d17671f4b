package org.sparkmoe.jobs.tokenizer;

import java.util.concurrent.ConcurrentHashMap;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * One {@link Tokenizer} per JVM and tokenizer SHA-256: building one parses a tokenizer.json of up to several MB,
 * which every task of an executor would otherwise repeat. Tokenizers are thread-safe, so concurrent tasks share it.
 */
final class TokenizerCache {

    private static final ConcurrentHashMap<String, Tokenizer> BY_SHA256 = new ConcurrentHashMap<>();

    private TokenizerCache() {}

    static Tokenizer get(TokenizerJson file) {
        return BY_SHA256.computeIfAbsent(file.sha256(), sha256 -> parse(file));
    }

    private static Tokenizer parse(TokenizerJson file) {
        try {
            return Tokenizer.fromJson(file.json());
        } catch (IllegalArgumentException e) {
            throw new UsageException("tokenizer " + file.location() + " cannot be used: " + e.getMessage()
                    + "; give a HF tokenizer.json of a byte-level BPE tokenizer", e);
        }
    }

    /** Remembers a tokenizer built here (a trained one), so tasks in this JVM need not parse it. */
    static void put(TokenizerJson file, Tokenizer tokenizer) {
        BY_SHA256.putIfAbsent(file.sha256(), tokenizer);
    }
}
