package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The kernel sources without a GPU: every file is on the classpath, is balanced, has its headers spliced in, and
 * declares every entry point the backend launches; where NVRTC is installed, every file compiles for sm_90a (Hopper, with wgmma) and sm_80.
 */
class KernelSourcesTest {

    /** Every kernel name CudaBackend launches (attention once per head dim). */
    private static final Set<String> LAUNCHED = Set.of("fill_f32", "add_f32", "scale_f32", "copy_f32", "cast_f32_bf16",
            "embedding_fwd", "embedding_bwd", "rmsnorm_fwd", "rmsnorm_residual_fwd", "rmsnorm_bwd",
            "rmsnorm_bwd_dw_reduce", "router_forward", "router_bwd_rows", "balance_loss_coefficients", "rope_inplace", "attention_fwd_hd64", "attention_bwd_delta_hd64",
            "attention_bwd_dq_hd64", "attention_bwd_dkv_hd64", "attention_fwd_hd32", "attention_fwd_hd128", "swiglu_fwd",
            "swiglu_bwd", "softmax_rows", "softmax_rows_bwd", "topk_rows", "topk_rows_bwd", "entropy_rows", "hash_route",
            "dispatch_rows", "dispatch_rows_bwd", "combine_rows", "combine_rows_bwd", "cross_entropy_rows",
            "balance_loss_rows", "balance_loss_finish", "adamw_f32", "reduce_partial", "reduce_finish", "causal_softmax_rows", "causal_probs_from_lse",
            "causal_score_grads", "attention_delta", "rope_positions", "attention_cached", "flash_fwd_hd64",
            "flash_fwd_hd128", "flash_bwd_dq_hd64", "flash_bwd_dq_hd128", "flash_bwd_dkv_hd64", "flash_bwd_dkv_hd128",
            "flash_wgmma_fwd_hd64", "flash_wgmma_fwd_hd128", "flash_wgmma_bwd_dq_hd64", "flash_wgmma_bwd_dq_hd128",
            "flash_wgmma_bwd_dkv_hd64", "flash_wgmma_bwd_dkv_hd128",
            "grouped_gemm_nt", "grouped_gemm_nt_unaligned", "grouped_gemm_nn", "grouped_gemm_nn_unaligned",
            "grouped_gemm_tn", "grouped_gemm_tn_unaligned", "grouped_gemm_tn_reduce", "grouped_gemm_wgmma_nt",
            "grouped_gemm_wgmma_nn", "grouped_gemm_wgmma_tn", "grouped_gemm_wgmma_nt_wide", "grouped_gemm_wgmma_nn_wide",
            "grouped_gemm_wgmma_tn_wide", "expert_slots_count",
            "expert_slots_scan", "expert_slots_place");

    @Test
    void everyFileIsPresentBalancedAndSelfContained() {
        for (String file : KernelSources.FILES) {
            String source = KernelSources.compilable(file);
            String code = source.replaceAll("//[^\n]*", "");
            assertFalse(source.contains("#include \""), file + " still includes a header");
            assertTrue(source.contains("float_to_bf16"), file + " lacks the spliced common header");
            assertEquals(count(code, '{'), count(code, '}'), file + " has unbalanced braces");
            assertEquals(count(code, '('), count(code, ')'), file + " has unbalanced parentheses");
            assertFalse(KernelSources.entryPoints(file).isEmpty(), file + " declares no extern \"C\" kernel");
        }
    }

    @Test
    void everyLaunchedKernelIsDeclaredExactlyOnce() {
        List<String> declared = new ArrayList<>();
        for (String file : KernelSources.FILES) {
            declared.addAll(KernelSources.entryPoints(file));
        }
        assertEquals(Set.copyOf(declared).size(), declared.size(), "duplicate entry points in " + declared);
        for (String name : LAUNCHED) {
            assertTrue(declared.contains(name), "no kernel source declares " + name + "; declared: " + declared);
        }
    }

    @Test
    void compilesWithNvrtcWhereItIsInstalled() {
        CudaLibraries libraries = CudaLibraries.fromEnvironment();
        Optional<java.nio.file.Path> file = libraries.findFile(CudaLibraries.Library.NVRTC);
        assumeTrue(file.isPresent(), "NVRTC not installed here (looked in " + libraries.searchFoldersInOrder() + ")");
        Nvrtc nvrtc = Nvrtc.load(libraries);
        for (String architecture : List.of("sm_90a", "sm_80")) {
            for (String source : KernelSources.FILES) {
                byte[] cubin = nvrtc.compileToCubin(source, KernelSources.compilable(source),
                        List.of("--gpu-architecture=" + architecture, "-std=c++17", "-default-device"));
                assertTrue(cubin.length > 0, source + " produced an empty CUBIN for " + architecture);
            }
        }
    }

    @Test
    void theTensorCoreHeaderIsSplicedWhereIncluded() {
        String flash = KernelSources.compilable("flash_attention.cu");
        assertTrue(flash.contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"), "tensor_core.cuh not spliced");
        assertTrue(flash.indexOf("float_to_bf16") < flash.indexOf("mma_bf16_16816"), "common.cuh must come first");
        assertFalse(KernelSources.compilable("attention.cu").contains("ldmatrix"), "only files that include it get it");
        String grouped = KernelSources.compilable("grouped_gemm.cu");
        assertTrue(grouped.contains("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16"), "wgmma.cuh not spliced");
        assertTrue(flash.indexOf("mma_bf16_16816") < flash.indexOf("wgmma_fence()"),
                "tensor_core.cuh must come before wgmma.cuh");
        assertFalse(KernelSources.compilable("attention.cu").contains("wgmma"), "only files that include it get it");
    }

    @Test
    void theCacheKeyChangesWithSourceOptionsAndCompiler() {
        String base = KernelLibrary.hash("source", List.of("-a"), "13.0");
        assertEquals(base, KernelLibrary.hash("source", List.of("-a"), "13.0"));
        assertFalse(base.equals(KernelLibrary.hash("source ", List.of("-a"), "13.0")));
        assertFalse(base.equals(KernelLibrary.hash("source", List.of("-b"), "13.0")));
        assertFalse(base.equals(KernelLibrary.hash("source", List.of("-a"), "13.1")));
    }

    private static long count(String s, char c) {
        return s.chars().filter(ch -> ch == c).count();
    }
}
