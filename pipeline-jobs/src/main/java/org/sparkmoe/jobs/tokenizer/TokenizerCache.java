package org.sparkmoe.jobs.tokenizer;

import java.util.concurrent.ConcurrentHashMap;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * One {@link Tokenizer} per JVM for each tokenizer.json text that tasks receive, so an executor parses a
 * vocabulary once rather than once per partition (the tokenizer is thread-safe and shared by all task threads).
 */
final class TokenizerCache {

    private static final ConcurrentHashMap<String, Tokenizer> BY_JSON = new ConcurrentHashMap<>();

    private TokenizerCache() {}

    static Tokenizer get(String json) {
        return BY_JSON.computeIfAbsent(json, Tokenizer::fromJson);
    }
}
