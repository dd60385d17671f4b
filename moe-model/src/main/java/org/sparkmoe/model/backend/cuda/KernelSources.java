package org.sparkmoe.model.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Our CUDA C++ kernel sources, kept as resources under {@code org/sparkmoe/model/backend/cuda/kernels/}. Each
 * {@code .cu} file is one concern and is compiled as its own NVRTC program; a header of the same folder
 * ({@code common.cuh}: bf16 helpers, warp and block reductions; {@code tensor_core.cuh}: MMA, ldmatrix, cp.async) is
 * spliced in where a file says {@code #include "name.cuh"}, since NVRTC sees no resource folder.
 */
public final class KernelSources {

    static final String FOLDER = "/org/sparkmoe/model/backend/cuda/kernels/";
    private static final Pattern HEADER_INCLUDE = Pattern.compile("#include \"(\\w+\\.cuh)\"");

    /** Every kernel file, in the order they are compiled. */
    public static final List<String> FILES = List.of("elementwise.cu", "embedding.cu", "rmsnorm.cu", "rope.cu",
            "attention.cu", "attention_softmax.cu", "flash_attention.cu", "grouped_gemm.cu", "expert_slots.cu", "kv_cache.cu", "swiglu.cu", "router.cu", "moe_dispatch.cu",
            "cross_entropy.cu", "balance_loss.cu", "adamw.cu", "reduce.cu");

    private static final Pattern ENTRY_POINT = Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+(?:__launch_bounds__\\([^)]*\\)\\s+)?(\\w+)\\s*\\(");

    private KernelSources() {
    }

    /** The raw text of one resource file. */
    public static String read(String fileName) {
        try (InputStream in = KernelSources.class.getResourceAsStream(FOLDER + fileName)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + FOLDER + fileName + " is missing from the classpath;"
                        + " rebuild moe-model (its resources hold the .cu files)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read kernel source " + fileName, e);
        }
    }

    /** The text NVRTC compiles for {@code fileName}: the file with each header it includes spliced in. */
    public static String compilable(String fileName) {
        return HEADER_INCLUDE.matcher(read(fileName))
                .replaceAll(include -> Matcher.quoteReplacement(read(include.group(1))));
    }

    /** The {@code extern "C" __global__} entry points a file declares, in order. */
    public static List<String> entryPoints(String fileName) {
        List<String> names = new ArrayList<>();
        Matcher m = ENTRY_POINT.matcher(compilable(fileName));
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }
}
