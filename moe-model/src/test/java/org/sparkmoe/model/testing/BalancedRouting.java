package org.sparkmoe.model.testing;

import java.util.Random;

/** Rows per expert of a balanced routing: each token picks its top-K experts distinct and uniformly at random. */
public final class BalancedRouting {

    private BalancedRouting() {
    }

    /** How many of {@code tokens} tokens chose each of {@code experts} experts, {@code topK} choices per token. */
    public static int[] rowsPerExpert(Random random, int experts, int tokens, int topK) {
        if (topK > experts) {
            throw new IllegalArgumentException("top-" + topK + " of " + experts + " experts");
        }
        int[] rows = new int[experts];
        int[] ids = new int[experts];
        for (int token = 0; token < tokens; token++) {
            for (int e = 0; e < experts; e++) {
                ids[e] = e;
            }
            for (int i = 0; i < topK; i++) {
                int j = i + random.nextInt(experts - i);
                int chosen = ids[j];
                ids[j] = ids[i];
                ids[i] = chosen;
                rows[chosen]++;
            }
        }
        return rows;
    }
}
