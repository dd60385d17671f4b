package org.sparkmoe.model.backend;

/**
 * The host-side sort of a micro-batch's (token, expert) assignments by expert, shared by every backend's
 * {@link Backend#expertCounts}: a stable counting sort (by expert, then token, then k) that gives each assignment its
 * row in the expert-major slab and returns the tokens per expert, which size the grouped GEMMs.
 *
 * <p>Legend: R tokens, K experts per token; idx_RK and slot_RK row-major, n = R·K assignments.
 */
public final class ExpertSlots {

    private ExpertSlots() {
    }

    /**
     * Writes {@code slot_RK[a]}, the slab row of assignment a, for a in {@code [0, n)} and returns the count of each
     * of the {@code experts}; refuses an expert index outside {@code [0, experts)}, naming the assignment.
     */
    public static int[] sort(int[] idx_RK, int n, int experts, int[] slot_RK) {
        int[] counts = new int[experts];
        for (int a = 0; a < n; a++) {
            int e = idx_RK[a];
            if (e < 0 || e >= experts) {
                throw new IllegalArgumentException("expert index " + e + " at assignment " + a + " is outside [0, "
                        + experts + ")");
            }
            counts[e]++;
        }
        int[] cursor = new int[experts];
        for (int e = 1; e < experts; e++) {
            cursor[e] = cursor[e - 1] + counts[e - 1];
        }
        for (int a = 0; a < n; a++) {
            slot_RK[a] = cursor[idx_RK[a]]++;
        }
        return counts;
    }

    /** The {@code counts.length + 1} exclusive prefix sums of {@code counts}: where each expert's rows start. */
    public static int[] offsets(int[] counts) {
        int[] offsets = new int[counts.length + 1];
        for (int e = 0; e < counts.length; e++) {
            offsets[e + 1] = offsets[e] + counts[e];
        }
        return offsets;
    }

    /** The counts whose prefix sums {@code offsets} are (the inverse of {@link #offsets}). */
    public static int[] counts(int[] offsets) {
        int[] counts = new int[offsets.length - 1];
        for (int e = 0; e < counts.length; e++) {
            counts[e] = offsets[e + 1] - offsets[e];
        }
        return counts;
    }
}
