package org.sparkmoe.jobs.refresh;

/**
 * One input file as a refresh saw it: where, how big, when it was last modified, and a SHA-256 of its bytes.
 * A file whose size and modification time are unchanged is taken as unchanged without reading it; otherwise the
 * hash decides (a file touched but not changed is not processed again).
 *
 * @param uri      fully qualified Hadoop URI
 * @param size     length in bytes
 * @param mtime    modification time, milliseconds since the epoch (the filesystem's own clock)
 * @param sha256   lower-case hex SHA-256 of the contents
 */
public record InputFingerprint(String uri, long size, long mtime, String sha256) {

    /** True when size and modification time match, so the contents need not be hashed again. */
    public boolean sameStat(long otherSize, long otherMtime) {
        return size == otherSize && mtime == otherMtime;
    }
}
