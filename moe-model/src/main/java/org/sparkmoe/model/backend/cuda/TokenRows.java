package org.sparkmoe.model.backend.cuda;

import java.util.Arrays;

/**
 * The rows of a batch grouped by token id, ascending within each token, for the deterministic embedding backward:
 * one device block per distinct token sums its rows in this order. Packed as one int array
 * {@code [rowsByToken (R) | start (U+1) | uniqueTokens (U)]} so it crosses to the device in one copy.
 */
record TokenRows(int[] packed, int uniqueCount) {

    /** The grouping of the first {@code rows} ids of {@code tokens}. */
    static TokenRows of(int[] tokens, int rows) {
        long[] order = new long[rows];  // (token, row) packed so one primitive sort orders by token, then row
        for (int r = 0; r < rows; r++) {
            order[r] = (long) tokens[r] << 32 | r;
        }
        Arrays.sort(order);
        int unique = 0;
        for (int i = 0; i < rows; i++) {
            if (i == 0 || (order[i] >>> 32) != (order[i - 1] >>> 32)) {
                unique++;
            }
        }
        int[] packed = new int[rows + (unique + 1) + unique];
        int u = 0;
        for (int i = 0; i < rows; i++) {
            packed[i] = (int) order[i];
            if (i == 0 || (order[i] >>> 32) != (order[i - 1] >>> 32)) {
                packed[rows + u] = i;
                packed[rows + unique + 1 + u] = (int) (order[i] >>> 32);
                u++;
            }
        }
        packed[rows + unique] = rows;
        return new TokenRows(packed, unique);
    }

    int packedLength() {
        return packed.length;
    }
}
