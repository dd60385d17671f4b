package org.sparkmoe.model.backend.cuda.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * The bench's shapes against what PyTorch reported for the same configs on the H200 (the PyTorch anchor, run of
 * 2026-11-28: params_M 1991.7 for val2b, 118.6 for small; 48,234 tokens/s at 103.1 model TFLOP/s on val2b and
 * 207,174 at 37.1 on small, which fixes the anchor's FLOPs per token), so both sides count the same work.
 */
class StepShapeTest {

    @Test
    void parameterCountsMatchPyTorchs() {
        assertEquals(1991.7, StepShape.named("val2b").parameters() / 1e6, 0.05);
        assertEquals(118.6, StepShape.named("small").parameters() / 1e6, 0.05);
    }

    @Test
    void flopsPerTokenMatchTheAnchorsTflopFigures() {
        assertEquals(103.1, 48_234 * StepShape.named("val2b").flopsPerToken() / 1e12, 0.05);
        assertEquals(37.1, 207_174 * StepShape.named("small").flopsPerToken() / 1e12, 0.05);
    }

    @Test
    void unknownConfigIsRefusedNamingTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StepShape.named("huge"));
        assertEquals("unknown bench config huge; use val2b or small", e.getMessage());
    }
}
