package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The embedding backward's grouping of rows by token: ascending tokens, rows ascending within each. */
class TokenRowsTest {

    @Test
    void groupsRowsByTokenInRowOrder() {
        TokenRows rows = TokenRows.of(new int[] {7, 3, 7, 0, 3, 7}, 6);
        assertEquals(3, rows.uniqueCount());
        // rowsByToken | start (U+1) | unique tokens
        assertArrayEquals(new int[] {3, 1, 4, 0, 2, 5, 0, 1, 3, 6, 0, 3, 7}, rows.packed());
    }
}
