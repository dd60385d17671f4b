package org.sparkmoe.jobs.prepare;

import java.nio.charset.StandardCharsets;

/** 64-bit hashing for dedup keys and shingles: stable across JVMs and runs (never {@code String.hashCode}). */
final class Hashing {

    private Hashing() {}

    /** The SplitMix64 finaliser: a bijective mix with full avalanche. */
    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** 64-bit FNV-1a over UTF-16 code units, then mixed. */
    static long hash(CharSequence s) {
        long h = 0xCBF29CE484222325L;
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001B3L;
        }
        return mix64(h);
    }

    /** A 64-bit hash of a whole text, for exact dedup: murmur-style over UTF-8 bytes in 8-byte words. */
    static long hashText(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        long h = b.length * 0x9E3779B97F4A7C15L;
        int i = 0;
        for (; i + 8 <= b.length; i += 8) {
            long w = 0;
            for (int k = 7; k >= 0; k--) {
                w = (w << 8) | (b[i + k] & 0xFF);
            }
            h = Long.rotateLeft(h ^ mix64(w), 27) * 0x9FB21C651E98DF25L;
        }
        long tail = 0;
        for (int k = b.length - 1; k >= i; k--) {
            tail = (tail << 8) | (b[k] & 0xFF);
        }
        return mix64(h ^ mix64(tail ^ 0x632BE59BD9B4E019L));
    }
}
