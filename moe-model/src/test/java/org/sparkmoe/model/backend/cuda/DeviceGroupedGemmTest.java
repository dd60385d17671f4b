package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Our grouped GEMM kernels' host-side plan without a GPU: the tile constants agree with {@code grouped_gemm.cu}, Hopper
 * takes the wgmma kernels and other GPUs mma.sync, the weight gradients are split along the rows only where the
 * outputs are too few tiles to fill the GPU and the experts have rows enough, and every kernel's shared memory fits
 * the per-block limit of the GPUs its family runs on.
 */
class DeviceGroupedGemmTest {

    private static final int H200_MULTIPROCESSORS = 132;
    /** The smallest opt-in shared memory per block of an sm_80+ GPU (sm_86, sm_89: 99 KiB). */
    private static final int SMALLEST_OPT_IN = 99 * 1024;
    /** Hopper's opt-in shared memory per block (227 KiB). */
    private static final int HOPPER_OPT_IN = 227 * 1024;

    @Test
    void theTileConstantsAreTheKernelsOwn() {
        String source = KernelSources.read("grouped_gemm.cu");
        Map<String, Integer> expected = Map.of("GG_THREADS", GroupedGemmKernels.THREADS, "GG_BM",
                GroupedGemmKernels.TILE_M, "GG_BN", GroupedGemmKernels.TILE_N, "GG_BK",
                GroupedGemmKernels.MMA_SYNC.tileK, "GG_STAGES", GroupedGemmKernels.MMA_SYNC.stages, "GG_PAD",
                GroupedGemmKernels.PAD, "GG_SLICE_STEP", DeviceGroupedGemm.SLICE_STEP, "GW_THREADS",
                GroupedGemmKernels.THREADS, "GW_BK", GroupedGemmKernels.WGMMA.tileK, "GW_STAGES",
                GroupedGemmKernels.WGMMA.stages);
        Matcher wide = Pattern.compile("#define GW_WIDE_STAGES (\\d+)").matcher(source);
        assertTrue(wide.find(), "grouped_gemm.cu defines no GW_WIDE_STAGES");
        assertEquals(GroupedGemmKernels.WIDE_STAGES, Integer.parseInt(wide.group(1)));
        expected.forEach((name, value) -> {
            Matcher m = Pattern.compile("#define " + name + " (\\d+)").matcher(source);
            assertTrue(m.find(), "grouped_gemm.cu defines no " + name);
            assertEquals(value, Integer.parseInt(m.group(1)), name + " differs between grouped_gemm.cu and Java");
        });
        assertTrue(source.contains("__launch_bounds__(GG_THREADS, " + GroupedGemmKernels.MMA_SYNC.blocksPerSm + ")"),
                "the persistent grids assume the mma.sync kernels' resident blocks per multiprocessor");
        assertTrue(source.contains("__launch_bounds__(GW_THREADS, " + GroupedGemmKernels.WGMMA.blocksPerSm + ")"),
                "the persistent grids assume the wgmma kernels' resident blocks per multiprocessor");
        for (int step : new int[] {GroupedGemmKernels.MMA_SYNC.tileK, GroupedGemmKernels.WGMMA.tileK}) {
            assertEquals(0, DeviceGroupedGemm.SLICE_STEP % step, "slices must be whole inner steps of " + step);
        }
    }

    @Test
    void hopperTakesTheWgmmaKernelsAndEveryOtherGpuMmaSync() {
        assertEquals(GroupedGemmKernels.WGMMA, GroupedGemmKernels.forDevice(info(9, 0)));
        assertEquals("sm_90a", info(9, 0).architecture());
        assertEquals(GroupedGemmKernels.MMA_SYNC, GroupedGemmKernels.forDevice(info(8, 0)));
        assertEquals(GroupedGemmKernels.MMA_SYNC, GroupedGemmKernels.forDevice(info(8, 9)));
        assertEquals("sm_89", info(8, 9).architecture());
        assertEquals(GroupedGemmKernels.MMA_SYNC, GroupedGemmKernels.forDevice(info(10, 0)));
        assertEquals("grouped_gemm_wgmma_tn", GroupedGemmKernels.WGMMA.kernel("tn", 128));
        assertEquals("grouped_gemm_wgmma_nt_wide", GroupedGemmKernels.WGMMA.kernel("nt", 256));
        assertEquals("grouped_gemm_nt_unaligned", GroupedGemmKernels.MMA_SYNC.kernel("nt_unaligned", 128));
    }

    @Test
    void wgmmaTakesWideTilesWhereTheyPadNoMoreColumns() {
        GroupedGemmKernels wgmma = GroupedGemmKernels.WGMMA;
        assertEquals(256, wgmma.tileN(1280));  // val-2b's width: 5 tiles of 256 against 10 of 128
        assertEquals(128, wgmma.tileN(864));   // its experts: 7 tiles of 128 (896 columns) against 4 of 256 (1,024)
        assertEquals(256, wgmma.tileN(704));   // 768 columns either way
        assertEquals(256, wgmma.tileN(176));   // one tile of 256 or two of 128
        assertEquals(128, wgmma.tileN(352));   // small's experts: 384 columns against 512
        assertEquals(128, wgmma.tileN(96));
        assertEquals(256, wgmma.tileN(160));
        assertEquals(128, GroupedGemmKernels.MMA_SYNC.tileN(1280), "mma.sync tiles are 128 wide");
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
    void sharedMemoryFitsEveryGpuOfEachFamily() {
        GroupedGemmKernels mma = GroupedGemmKernels.MMA_SYNC;
        int stageNt = (128 * 40 + 128 * 40) * 2;
        assertEquals(4 * stageNt + 4 * (2 * 64 + 1), mma.sharedBytes(true, true, 64, 128));
        assertEquals(4 * (128 * 40 + 32 * 136) * 2 + 4 * (2 * 64 + 1), mma.sharedBytes(true, false, 64, 128));
        assertEquals(4 * (32 * 136 + 32 * 136) * 2, mma.sharedBytes(false, false, 64, 128));
        // wgmma: 1 KB of alignment slack, then 6 stages of a 128 x 64 and a 128 x 64 bf16 tile, or 4 stages of a
        // 128 x 64 and a 256 x 64 one, whatever the operands' majorness
        GroupedGemmKernels wgmma = GroupedGemmKernels.WGMMA;
        assertEquals(1024 + 6 * 2 * 16_384 + 4 * (2 * 64 + 1), wgmma.sharedBytes(true, false, 64, 128));
        assertEquals(1024 + 6 * 2 * 16_384, wgmma.sharedBytes(false, false, 64, 128));
        assertEquals(1024 + 4 * (16_384 + 32_768), wgmma.sharedBytes(false, true, 64, 256));
        for (boolean rowGrouped : new boolean[] {true, false}) {
            for (boolean kContiguous : new boolean[] {true, false}) {
                int bytes = mma.sharedBytes(rowGrouped, kContiguous, 160, 128);
                assertTrue(bytes <= SMALLEST_OPT_IN, bytes + " bytes of shared memory for 160 experts");
                for (int tileN : new int[] {128, 256}) {
                    int hopper = wgmma.sharedBytes(rowGrouped, kContiguous, 160, tileN);
                    assertTrue(hopper <= HOPPER_OPT_IN, hopper + " bytes for 160 experts on Hopper, tiles " + tileN);
                }
            }
        }
    }

    private static CudaDevice.DeviceInfo info(int major, int minor) {
        return new CudaDevice.DeviceInfo(0, "test", major, minor, 132, 1L << 37, 50 << 20, 232_448, 13_000);
    }
}
