package org.sparkmoe.model.backend.cuda;

import java.util.Arrays;

/**
 * The rows of a batch grouped by token id, ascending within each token, for the deterministic embedding backward:
 * one device block per distinct token sums its rows in this order. Packed as one int array
 * {@code [rowsByToken (R) | start (U+1) | uniqueTokens (U)]} so it crosses to the device in one copy.
 */
record TokenRows(int[] packed, int uniqueCount) {

    static TokenRows of(int[] tokens) {
        int rows = tokens.length;
        Integer[] order = new Integer[rows];
        for (int r = 0; r < rows; r++) {
            order[r] = r;
        }
        Arrays.sort(order, (a, b) -> tokens[a] != tokens[b] ? Integer.compare(tokens[a], tokens[b]) : Integer.compare(a, b));
        int unique = 0;
        for (int i = 0; i < rows; i++) {
            if (i == 0 || tokens[order[i]] != tokens[order[i - 1]]) {
                unique++;
            }
        }
        int[] packed = new int[rows + (unique + 1) + unique];
        int u = 0;
        for (int i = 0; i < rows; i++) {
            packed[i] = order[i];
            if (i == 0 || tokens[order[i]] != tokens[order[i - 1]]) {
                packed[rows + u] = i;
                packed[rows + unique + 1 + u] = tokens[order[i]];
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
