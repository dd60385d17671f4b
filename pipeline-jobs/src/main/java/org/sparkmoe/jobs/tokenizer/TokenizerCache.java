package org.sparkmoe.jobs.tokenizer;

import java.util.concurrent.ConcurrentHashMap;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * One {@link Tokenizer} per JVM for each tokenizer.json text, shared by every job and task in it: an executor (or a
 * local-mode driver running several jobs, as the demo does) parses a vocabulary once rather than once per partition,
 * job or evaluation task. Tokenizers are thread-safe, so all task threads share one.
 */
public final class TokenizerCache {

    private static final ConcurrentHashMap<String, Tokenizer> BY_JSON = new ConcurrentHashMap<>();

    private TokenizerCache() {}

    /** The tokenizer {@code json} describes, parsed on first use in this JVM. */
    public static Tokenizer get(String json) {
        return BY_JSON.computeIfAbsent(json, Tokenizer::fromJson);
    }

    /** Remembers a tokenizer built here (a trained one) under its JSON, so tasks in this JVM need not parse it. */
    static void put(String json, Tokenizer tokenizer) {
        BY_JSON.putIfAbsent(json, tokenizer);
    }
}
