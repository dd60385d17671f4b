package org.sparkmoe.jobs.shards;

/**
 * Train/validation split by a stable hash of the document id alone (not the shuffle seed): a document lands in the
 * same split in every version built with the same ratio, and never in both.
 */
public final class SplitAssigner {

    private SplitAssigner() {}

    public static boolean isValidation(String docId, double validationRatio) {
        return StableHash.unit(StableHash.of(0, "split", docId)) < validationRatio;
    }

    public static String splitOf(String docId, double validationRatio) {
        return isValidation(docId, validationRatio) ? Manifest.VALIDATION : Manifest.TRAIN;
    }
}
