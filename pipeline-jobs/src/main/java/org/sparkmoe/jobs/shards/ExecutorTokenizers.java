package org.sparkmoe.jobs.shards;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * One {@link Tokenizer} per executor JVM and tokenizer hash: building one parses an 8 MB tokenizer.json, which
 * every task would otherwise repeat. Tokenizers are thread-safe, so concurrent tasks share it.
 */
final class ExecutorTokenizers {

    private static final ConcurrentMap<String, Tokenizer> BY_SHA256 = new ConcurrentHashMap<>();

    private ExecutorTokenizers() {}

    static Tokenizer get(String sha256, String json) {
        return BY_SHA256.computeIfAbsent(sha256, k -> Tokenizer.fromJson(json));
    }
}
