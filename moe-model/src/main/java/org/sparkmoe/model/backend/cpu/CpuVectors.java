package org.sparkmoe.model.backend.cpu;

import java.lang.management.ManagementFactory;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The one float vector species every CPU kernel uses, chosen once. It must stay a {@code static final} constant:
 * passed around as a value, the JIT cannot turn Vector API calls into SIMD instructions and kernels run 20-50x
 * slower.
 *
 * <p>The system property {@value #BITS_PROPERTY} (128, 256 or 512) overrides the CPU's preferred width, for
 * example to compare 256- and 512-bit kernels on cores that split 512-bit operations.
 */
public final class CpuVectors {
    /** System property that overrides the vector width in bits. */
    public static final String BITS_PROPERTY = "sparkmoe.cpu.vectorBits";

    /** The float species of every kernel. */
    public static final VectorSpecies<Float> FLOATS = choose();
    /** Lanes of {@link #FLOATS}. */
    public static final int LANES = FLOATS.length();

    private static final System.Logger LOG = System.getLogger(CpuVectors.class.getName());

    private CpuVectors() {}

    private static VectorSpecies<Float> choose() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            throw new IllegalStateException("the Vector API module is missing, so no CPU kernel can run: start the"
                    + " JVM with --add-modules=jdk.incubator.vector (conf/jvm.properties has it; bin/ scripts use it)");
        }
        String configured = System.getProperty(BITS_PROPERTY);
        if (configured == null || configured.isBlank()) return FloatVector.SPECIES_PREFERRED;
        int bits;
        try {
            bits = Integer.parseInt(configured.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property " + BITS_PROPERTY + "='" + configured
                    + "' is not a number; use 128, 256 or 512", e);
        }
        int preferred = VectorShape.preferredShape().vectorBitSize();
        if ((bits != 128 && bits != 256 && bits != 512) || bits > preferred) {
            throw new IllegalArgumentException("system property " + BITS_PROPERTY + "=" + bits
                    + " is not supported here: use 128, 256 or 512, at most this CPU's " + preferred);
        }
        return VectorSpecies.of(float.class, VectorShape.forBitSize(bits));
    }

    /**
     * Describes the chosen species and warns loudly when the Vector API is unlikely to be compiled to SIMD
     * (no JIT, C2 disabled, a species narrower than 256 bits): then kernels still compute the right result,
     * only many times slower.
     */
    static String describeAndWarn(String kernel) {
        String description = kernel + " with " + FLOATS + " (" + FLOATS.vectorBitSize() + "-bit, " + LANES
                + " lanes; CPU prefers " + VectorShape.preferredShape().vectorBitSize() + "-bit)";
        String problem = simdProblem();
        if (!ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-XX:-UseProfiledLoopPredicate")) {
            LOG.log(System.Logger.Level.WARNING, "CPU kernels: the JVM runs without -XX:-UseProfiledLoopPredicate"
                    + " (conf/jvm.properties); C2 then deoptimises the kernels over off-heap segments again and again"
                    + " and an engine step runs several times slower");
        }
        if (problem == null) {
            LOG.log(System.Logger.Level.INFO, "CPU kernel path: {0}", description);
        } else {
            LOG.log(System.Logger.Level.WARNING, "CPU kernel path: {0}. SLOW: {1}; expect a fraction of full SIMD speed. "
                    + "Run on HotSpot with C2 and a CPU with AVX2 or AVX-512.", description, problem);
        }
        return description;
    }

    private static String simdProblem() {
        var compiler = ManagementFactory.getCompilationMXBean();
        if (compiler == null) return "the JVM runs without a JIT compiler (interpreter only)";
        String vm = System.getProperty("java.vm.name", "");
        for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (argument.startsWith("-XX:TieredStopAtLevel=") && !argument.endsWith("=4")) {
                return "C2 is disabled by " + argument + ", and only C2 makes the Vector API intrinsic";
            }
            if (argument.equals("-Xint")) return "the JVM runs interpreted (-Xint)";
        }
        if (!vm.contains("HotSpot") && !vm.contains("OpenJDK")) {
            return "JVM '" + vm + "' may not make the Vector API intrinsic";
        }
        if (FLOATS.vectorBitSize() < 256) {
            return "vectors are only " + FLOATS.vectorBitSize() + " bits wide";
        }
        return null;
    }
}
