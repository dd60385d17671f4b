package org.sparkmoe.jobs.shards;

import java.nio.charset.StandardCharsets;

/**
 * A 64-bit hash whose value is fixed forever (FNV-1a over UTF-8, finished with the SplitMix64 mixer): the train and
 * validation split, mixture sampling, shard assignment and the epoch order all derive from it, so a dataset
 * rebuilt next year, on another JVM, makes the same decisions. {@link String#hashCode()} and
 * {@link java.util.SplittableRandom} are not specified tightly enough for that.
 */
public final class StableHash {

    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;
    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

    private StableHash() {}

    /** Hash of a string under a seed and a purpose tag, so different decisions on the same id are independent. */
    public static long of(long seed, String purpose, String text) {
        long h = FNV_OFFSET ^ mix(seed);
        h = fnv(h, purpose);
        h = (h ^ 0xff) * FNV_PRIME;
        h = fnv(h, text);
        return mix(h);
    }

    /** Hash of a string, a seed, a purpose and a small integer (a copy number). */
    public static long of(long seed, String purpose, String text, long number) {
        return mix(of(seed, purpose, text) ^ mix(number + GOLDEN_GAMMA));
    }

    /** A uniform double in [0, 1) from a hash. */
    public static double unit(long hash) {
        return (hash >>> 11) * 0x1.0p-53;
    }

    /** The SplitMix64 finaliser: a bijection of the 64-bit values with good avalanche. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    private static long fnv(long h, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        for (byte b : bytes) {
            h = (h ^ (b & 0xff)) * FNV_PRIME;
        }
        return h;
    }

    /** A SplitMix64 stream: deterministic pseudo-random numbers for the per-epoch shuffle. */
    static final class Stream {
        private long state;

        Stream(long seed) {
            this.state = seed;
        }

        long next() {
            state += GOLDEN_GAMMA;
            return mix(state);
        }

        /** Uniform in [0, bound), by Lemire's multiply-high reduction (bias below 2^-32 for int bounds). */
        int nextInt(int bound) {
            return (int) Math.multiplyHigh(next() >>> 1, (long) bound << 1);
        }
    }
}
