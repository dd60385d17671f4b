package org.sparkmoe.jobs.shards;

import java.io.IOException;

/** A shard that does not match its manifest or is not a valid token shard; the message names the file. */
public final class CorruptShardException extends IOException {

    public CorruptShardException(String shard, String problem) {
        super("token shard " + shard + " is unusable: " + problem
                + "; re-run tokenize (or restore the shard) instead of training on it");
    }
}
