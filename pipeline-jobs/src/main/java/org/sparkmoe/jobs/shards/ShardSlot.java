package org.sparkmoe.jobs.shards;

import java.io.Serializable;
import java.util.Comparator;

/**
 * Where one copy of a document goes: a shard (the Spark partition that writes it) and its place in that shard.
 * The place is a stable hash of (seed, id, copy), so documents are globally shuffled; id, copy and a content hash
 * break ties, so the order, and with it every shard's bytes, is fully determined by the input and the seed.
 */
record ShardSlot(int partition, long order, String id, int copy, long contentHash)
        implements Comparable<ShardSlot>, Serializable {

    private static final Comparator<ShardSlot> ORDER = Comparator.comparingInt(ShardSlot::partition)
            .thenComparingLong(ShardSlot::order)
            .thenComparing(ShardSlot::id)
            .thenComparingInt(ShardSlot::copy)
            .thenComparingLong(ShardSlot::contentHash);

    @Override
    public int compareTo(ShardSlot other) {
        return ORDER.compare(this, other);
    }
}
