package org.sparkmoe.model.backend.cuda;

/** bf16 conversions on the host, bit-identical to the device helpers in {@code common.cuh}: round to nearest even, NaN kept. */
public final class Bf16 {

    private Bf16() {
    }

    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float toFloat(short value) {
        return Float.intBitsToFloat((value & 0xffff) << 16);
    }

    /** The value bf16 storage keeps of {@code value}. */
    public static float round(float value) {
        return toFloat(fromFloat(value));
    }
}
