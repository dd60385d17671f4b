package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * Comparisons for device results against a reference: relative error in the 2-norm, ||out - ref|| / ||ref||, with
 * every element required finite (an unwritten, NaN-poisoned element fails), random inputs from fixed seeds, and
 * tensors filled from and read back to the host.
 */
final class Checks {

    /** fp32 paths. */
    static final double FP32_TOLERANCE = 1e-5;
    /** bf16 operands with fp32 accumulation (8 significant bits per operand). */
    static final double BF16_TOLERANCE = 1e-2;

    private Checks() {
    }

    /**
     * A new generator for one check, seeded from the check's name: every run draws the same inputs, so a failing check
     * reproduces, and different checks draw different inputs.
     */
    static Random seededRandom(String check) {
        long seed = check.hashCode();
        System.out.println(check + ": seed " + seed);
        return new Random(seed);
    }

    static float[] gaussian(Random random, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextGaussian() * scale);
        }
        return x;
    }

    /** A new fp32 tensor of {@code backend} holding {@code values}. */
    static Tensor upload(Backend backend, String name, float[] values) {
        Tensor t = backend.allocate(name, DType.F32, values.length);
        backend.upload(values, 0, t, 0, values.length);
        return t;
    }

    /** The values of {@code tensors}, each freed once read. */
    static float[][] downloadAndFree(Backend backend, Tensor... tensors) {
        float[][] values = new float[tensors.length][];
        for (int i = 0; i < tensors.length; i++) {
            values[i] = new float[(int) tensors[i].size()];
            backend.download(tensors[i], 0, values[i], 0, values[i].length);
            backend.free(tensors[i]);
        }
        return values;
    }

    static double relativeError(float[] out, float[] reference) {
        return relativeError(out, toDouble(reference));
    }

    static double relativeError(float[] out, double[] reference) {
        if (out.length != reference.length) {
            fail("length " + out.length + " != reference length " + reference.length);
        }
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < out.length; i++) {
            if (!Float.isFinite(out[i])) {
                fail("element " + i + " is " + out[i] + " (unwritten or non-finite); reference " + reference[i]);
            }
            diff += (out[i] - reference[i]) * (out[i] - reference[i]);
            norm += reference[i] * reference[i];
        }
        return norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
    }

    static void assertClose(String what, float[] out, float[] reference, double tolerance) {
        double error = relativeError(out, reference);
        System.out.printf("%s: relative error %.3e (tolerance %.0e)%n", what, error, tolerance);
        assertTrue(error <= tolerance, what + ": relative error " + error + " exceeds " + tolerance);
    }

    static void assertClose(String what, float[] out, double[] reference, double tolerance) {
        double error = relativeError(out, reference);
        System.out.printf("%s: relative error %.3e (tolerance %.0e)%n", what, error, tolerance);
        assertTrue(error <= tolerance, what + ": relative error " + error + " exceeds " + tolerance);
    }

    private static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }
}
