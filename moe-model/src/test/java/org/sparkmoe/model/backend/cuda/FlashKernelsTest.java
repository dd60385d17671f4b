package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The FLASH attention kernels' host-side plan without a GPU: the block constants agree with
 * {@code flash_attention.cu}, Hopper takes the wgmma kernels and other GPUs mma.sync, each entry point the host names
 * is declared, and each pass's shared memory fits the GPUs its family serves (AUTO attention takes GEMM where it
 * does not), two wgmma blocks to a Hopper multiprocessor as their launch bounds assume.
 */
class FlashKernelsTest {

    /** The smallest opt-in shared memory per block of an sm_80+ GPU (sm_86, sm_89: 99 KiB). */
    private static final int SMALLEST_OPT_IN = 99 * 1024;
    /** A100's opt-in shared memory per block (163 KiB). */
    private static final int A100_OPT_IN = 163 * 1024;
    /** Shared memory per Hopper multiprocessor that blocks may take (228 KiB less 1 KiB reserved per block). */
    private static final int HOPPER_PER_SM = 228 * 1024;

    @Test
    void theBlockConstantsAreTheKernelsOwn() {
        String source = KernelSources.read("flash_attention.cu");
        Map<String, Integer> expected = Map.of("FLASH_THREADS", FlashKernels.THREADS, "FLASH_ROWS", FlashKernels.ROWS);
        expected.forEach((name, value) -> {
            Matcher m = Pattern.compile("#define " + name + " (\\d+)").matcher(source);
            assertTrue(m.find(), "flash_attention.cu defines no " + name);
            assertEquals(value, Integer.parseInt(m.group(1)), name + " differs between flash_attention.cu and Java");
        });
        assertTrue(source.contains("__launch_bounds__(FLASH_THREADS, 2) flash_wgmma_"),
                "the wgmma kernels are built for two resident blocks per multiprocessor");
    }

    @Test
    void hopperTakesTheWgmmaKernelsAndEveryOtherGpuMmaSync() {
        assertEquals(FlashKernels.WGMMA, FlashKernels.forDevice(info(9, 0)));
        assertEquals(FlashKernels.MMA_SYNC, FlashKernels.forDevice(info(8, 0)));
        assertEquals(FlashKernels.MMA_SYNC, FlashKernels.forDevice(info(8, 9)));
        assertEquals(FlashKernels.MMA_SYNC, FlashKernels.forDevice(info(10, 0)));
        var declared = KernelSources.entryPoints("flash_attention.cu");
        for (FlashKernels kernels : FlashKernels.values()) {
            for (String pass : new String[] {"fwd", "bwd_dq", "bwd_dkv"}) {
                for (int headDim : new int[] {64, 128}) {
                    String name = kernels.kernel(pass, headDim);
                    assertTrue(declared.contains(name), name + " is not declared; declared: " + declared);
                }
            }
        }
        assertEquals("flash_wgmma_bwd_dkv_hd128", FlashKernels.WGMMA.kernel("bwd_dkv", 128));
    }

    @Test
    void sharedMemoryFitsTheGpusEachFamilyServes() {
        // mma.sync: 64-row tiles padded by 8 bf16; dkv at head dim 128 walks 32-row query tiles
        FlashKernels mma = FlashKernels.MMA_SYNC;
        assertEquals(4 * 64 * 136 * 2, mma.forwardShared(128));
        assertEquals(6 * 64 * 136 * 2, mma.queryShared(128));
        assertEquals(2 * 64 * 136 * 2 + 4 * 32 * 136 * 2 + 4 * 32 * 4, mma.keyValueShared(128));
        assertEquals(2 * 64 * 72 * 2 + 4 * 64 * 72 * 2 + 4 * 64 * 4, mma.keyValueShared(64));
        // Head dim 64 fits every sm_80+ GPU; 128 needs A100's 163 KiB (dq: 102 KiB), so sm_86/sm_89 GPUs take GEMM
        // attention there under AUTO.
        assertTrue(mma.fits(64, SMALLEST_OPT_IN));
        assertFalse(mma.fits(128, SMALLEST_OPT_IN));
        assertTrue(mma.fits(128, A100_OPT_IN));
        // wgmma: 1 KB of alignment slack, then unpadded swizzled 64-row tiles (16 KB at head dim 128)
        FlashKernels wgmma = FlashKernels.WGMMA;
        assertEquals(1024 + 5 * 16_384, wgmma.forwardShared(128));
        assertEquals(1024 + 6 * 16_384, wgmma.queryShared(128));
        assertEquals(1024 + 6 * 16_384 + 4 * 64 * 4, wgmma.keyValueShared(128));
        assertEquals(1024 + 6 * 8_192 + 4 * 64 * 4, wgmma.keyValueShared(64));
        for (int headDim : new int[] {64, 128}) {
            int widest = Math.max(wgmma.forwardShared(headDim), Math.max(wgmma.queryShared(headDim),
                    wgmma.keyValueShared(headDim)));
            assertTrue(2 * (widest + 1024) <= HOPPER_PER_SM,
                    "two blocks of " + widest + " bytes at head dim " + headDim + " exceed a Hopper multiprocessor");
        }
    }

    private static CudaDevice.DeviceInfo info(int major, int minor) {
        return new CudaDevice.DeviceInfo(0, "test", major, minor, 132, 1L << 37, 50 << 20, 232_448, 13_000);
    }
}
