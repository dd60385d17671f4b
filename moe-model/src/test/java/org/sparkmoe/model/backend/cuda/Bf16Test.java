package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Host bf16 rounding: round to nearest even on the dropped 16 bits, NaN kept NaN, as the device helper does. */
class Bf16Test {

    @Test
    void roundsToNearestEven() {
        assertEquals((short) 0x3f80, Bf16.fromFloat(1f));
        // exactly halfway: ties go to the even mantissa
        assertEquals((short) 0x3f80, Bf16.fromFloat(Float.intBitsToFloat(0x3f808000)));
        assertEquals((short) 0x3f82, Bf16.fromFloat(Float.intBitsToFloat(0x3f818000)));
        // above halfway rounds up, below rounds down
        assertEquals((short) 0x3f81, Bf16.fromFloat(Float.intBitsToFloat(0x3f808001)));
        assertEquals((short) 0x3f80, Bf16.fromFloat(Float.intBitsToFloat(0x3f807fff)));
        assertEquals(-2f, Bf16.round(-2f));
    }

    @Test
    void keepsNanAndInfinity() {
        assertTrue(Float.isNaN(Bf16.round(Float.NaN)));
        assertEquals(Float.POSITIVE_INFINITY, Bf16.round(Float.POSITIVE_INFINITY));
    }
}
