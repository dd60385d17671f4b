package org.sparkmoe.jobs.shards;

import org.apache.spark.Partitioner;

/** Sends each {@link ShardSlot} to the Spark partition that writes its shard (train shards first, then validation). */
final class ShardPartitioner extends Partitioner {

    private final int partitions;

    ShardPartitioner(int partitions) {
        this.partitions = partitions;
    }

    @Override
    public int numPartitions() {
        return partitions;
    }

    @Override
    public int getPartition(Object key) {
        return ((ShardSlot) key).partition();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof ShardPartitioner p && p.partitions == partitions;
    }

    @Override
    public int hashCode() {
        return partitions;
    }
}
