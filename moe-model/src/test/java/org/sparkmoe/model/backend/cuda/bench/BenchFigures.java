package org.sparkmoe.model.backend.cuda.bench;

/** The figures the kernel benches print: a rate from FLOPs and time, and how far one path's output is from another's. */
final class BenchFigures {

    private BenchFigures() {
    }

    /** TFLOP/s of {@code flops} done in {@code millis}. */
    static double tflops(double flops, double millis) {
        return flops / (millis / 1000) / 1e12;
    }

    /**
     * ||out - reference|| / ||reference|| in the 2-norm (the plain norm of the difference where the reference is zero);
     * unlike the tests' check it does not fail on a non-finite element, which shows as NaN in the bench's table.
     */
    static double relativeError(float[] out, float[] reference) {
        double diff = 0;
        double norm = 0;
        for (int i = 0; i < out.length; i++) {
            double d = (double) out[i] - reference[i];
            diff += d * d;
            norm += (double) reference[i] * reference[i];
        }
        return norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
    }
}
