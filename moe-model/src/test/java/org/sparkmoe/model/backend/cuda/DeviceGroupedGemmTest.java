package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Our grouped GEMM kernels' host-side plan without a GPU: the tile constants agree with {@code grouped_gemm.cu}, the
 * weight gradients are split along the rows only where the outputs are too few tiles to fill the GPU and the experts
 * have rows enough, and every kernel's shared memory fits the per-block limit of every GPU from sm_80 on.
 */
class DeviceGroupedGemmTest {

    private static final int H200_MULTIPROCESSORS = 132;
    /** The smallest opt-in shared memory per block of an sm_80+ GPU (sm_86, sm_89: 99 KiB). */
    private static final int SMALLEST_OPT_IN = 99 * 1024;

    @Test
    void theTileConstantsAreTheKernelsOwn() {
        String source = KernelSources.read("grouped_gemm.cu");
        Map<String, Integer> expected = Map.of("GG_THREADS", DeviceGroupedGemm.THREADS, "GG_BM",
                DeviceGroupedGemm.TILE_M, "GG_BN", DeviceGroupedGemm.TILE_N, "GG_BK", DeviceGroupedGemm.TILE_K,
                "GG_STAGES", DeviceGroupedGemm.STAGES, "GG_PAD", DeviceGroupedGemm.PAD);
        expected.forEach((name, value) -> {
            Matcher m = Pattern.compile("#define " + name + " (\\d+)").matcher(source);
            assertTrue(m.find(), "grouped_gemm.cu defines no " + name);
            assertEquals(value, Integer.parseInt(m.group(1)), name + " differs between grouped_gemm.cu and Java");
        });
        assertTrue(source.contains("__launch_bounds__(GG_THREADS, " + DeviceGroupedGemm.BLOCKS_PER_SM + ")"),
                "the persistent grids assume the kernels' resident blocks per multiprocessor");
    }

    @Test
    void fineGrainedWeightGradientsAreSplitAndLargeOnesAreNot() {
        // cmp-deepseekmoe: 63 experts of 176 x 256 over 32 x 512 tokens, top-7: 4 tiles per expert, ~1,800 rows each
        assertEquals(3, DeviceGroupedGemm.slices(63, 176, 256, 32 * 512 * 7, H200_MULTIPROCESSORS));
        assertEquals(3, DeviceGroupedGemm.slices(63, 256, 176, 32 * 512 * 7, H200_MULTIPROCESSORS));
        // small: 31 experts of 352 x 512 over 16 x 1024 tokens, top-3
        assertEquals(2, DeviceGroupedGemm.slices(31, 352, 512, 16 * 1024 * 3, H200_MULTIPROCESSORS));
        // val-2b: 63 experts of 864 x 1280 are 4,410 tiles, and 16b's 64 of 1408 x 2048 more: no split
        assertEquals(1, DeviceGroupedGemm.slices(63, 864, 1280, 8 * 2048 * 7, H200_MULTIPROCESSORS));
        assertEquals(1, DeviceGroupedGemm.slices(64, 1408, 2048, 4 * 4096 * 6, H200_MULTIPROCESSORS));
        // tiny: few tiles, but 64 rows per expert are too few to cut
        assertEquals(1, DeviceGroupedGemm.slices(8, 32, 64, 4 * 64 * 2, H200_MULTIPROCESSORS));
        // however many multiprocessors, at most MAX_SLICES; no rows: one slice
        assertEquals(DeviceGroupedGemm.MAX_SLICES, DeviceGroupedGemm.slices(2, 64, 64, 1 << 20, 10_000));
        assertEquals(1, DeviceGroupedGemm.slices(63, 176, 256, 0, H200_MULTIPROCESSORS));
        assertThrows(IllegalArgumentException.class, () -> DeviceGroupedGemm.slices(0, 176, 256, 100, 132));
    }

    @Test
    void scratchHoldsTheOffsetsAndOnlyTrainingPartials() {
        long rows = 32 * 512 * 7;
        assertEquals(4L * 64 + 4L * 3 * 63 * 176 * 256,
                DeviceGroupedGemm.scratchBytes(63, 176, 256, rows, true, H200_MULTIPROCESSORS));
        assertEquals(4L * 64, DeviceGroupedGemm.scratchBytes(63, 176, 256, rows, false, H200_MULTIPROCESSORS));
        assertEquals(0, DeviceGroupedGemm.scratchBytes(0, 176, 256, rows, true, H200_MULTIPROCESSORS));
    }

    @Test
    void sharedMemoryFitsEveryTensorCoreGpu() {
        int stageNt = (128 * 40 + 128 * 40) * 2;
        assertEquals(4 * stageNt + 4 * (2 * 64 + 1), DeviceGroupedGemm.sharedBytes(true, true, 64));
        assertEquals(4 * (128 * 40 + 32 * 136) * 2 + 4 * (2 * 64 + 1), DeviceGroupedGemm.sharedBytes(true, false, 64));
        assertEquals(4 * (32 * 136 + 32 * 136) * 2, DeviceGroupedGemm.sharedBytes(false, false, 64));
        for (boolean rowGrouped : new boolean[] {true, false}) {
            for (boolean kContiguous : new boolean[] {true, false}) {
                int bytes = DeviceGroupedGemm.sharedBytes(rowGrouped, kContiguous, 160);
                assertTrue(bytes <= SMALLEST_OPT_IN, bytes + " bytes of shared memory for 160 experts");
            }
        }
    }
}
