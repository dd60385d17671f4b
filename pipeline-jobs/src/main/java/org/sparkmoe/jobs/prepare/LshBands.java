package org.sparkmoe.jobs.prepare;

import java.io.Serializable;
import java.nio.ByteBuffer;

/**
 * Locality-sensitive banding of MinHash signatures: the signature is cut into {@code bands} bands of {@code rows}
 * slots, and each band is hashed to one 64-bit key. Two documents share a band key (become candidates) with
 * probability 1 − (1 − s^rows)^bands for Jaccard s: AND inside a band, OR across bands. Unlike Spark ML's
 * MinHashLSH (one slot per table, so s = 0.3 collides almost surely with 20 tables), this makes a steep S-curve
 * around (1/bands)^(1/rows).
 */
public final class LshBands implements Serializable {

    private final int bands;
    private final int rows;

    public LshBands(int bands, int rows) {
        this.bands = bands;
        this.rows = rows;
    }

    public int bands() {
        return bands;
    }

    public int rows() {
        return rows;
    }

    /** The band keys of one signature ({@code bands × rows × 8} bytes), band index mixed in. */
    public long[] keys(byte[] signature) {
        ByteBuffer sig = ByteBuffer.wrap(signature);
        long[] keys = new long[bands];
        for (int b = 0; b < bands; b++) {
            long h = Hashing.mix64(0x7F4A7C15L + b);
            for (int r = 0; r < rows; r++) {
                h = Hashing.mix64(h ^ sig.getLong(8 * (b * rows + r)));
            }
            keys[b] = h;
        }
        return keys;
    }

    /** Probability that a pair with Jaccard similarity {@code s} shares at least one band key. */
    public double candidateProbability(double s) {
        return 1 - Math.pow(1 - Math.pow(s, rows), bands);
    }
}
