package org.sparkmoe.jobs.shards;

/**
 * The order in which an epoch visits the packed sequences: a Fisher-Yates permutation of 0..n-1 driven by a
 * SplitMix64 stream seeded from (seed, epoch). Fully determined by those three numbers, on any JVM. 4 bytes per
 * sequence (a 100 B-token split at seqLen 4096 is 24 M sequences, 98 MB).
 */
final class EpochOrder {

    private EpochOrder() {}

    static int[] permutation(int n, long seed, int epoch) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        StableHash.Stream random = new StableHash.Stream(StableHash.mix(seed) ^ StableHash.mix(0x5eed0000L + epoch));
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }
}
