package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Library discovery without a GPU: search order, the first hit, and the message when a library is nowhere. */
class CudaLibrariesTest {

    @Test
    void searchesTheExtraPathThenCudaHomeThenTheDefaultToolkit() {
        List<Path> folders = CudaLibraries.searchFolders(Map.of("SPARKMOE_CUDA_LIB_PATH", "/opt/a:/opt/b",
                "CUDA_HOME", "/opt/cuda-13"));
        assertEquals(List.of(Path.of("/opt/a"), Path.of("/opt/b"), Path.of("/opt/cuda-13/lib64"),
                Path.of("/opt/cuda-13/targets/x86_64-linux/lib"), Path.of("/usr/local/cuda/lib64"),
                Path.of("/usr/local/cuda/targets/x86_64-linux/lib"), Path.of("/usr/lib/x86_64-linux-gnu")), folders);
    }

    @Test
    void findsTheFirstFileByItsUsualNames(@TempDir Path root) throws Exception {
        Path early = Files.createDirectories(root.resolve("early"));
        Path late = Files.createDirectories(root.resolve("late"));
        Files.writeString(late.resolve("libnccl.so.2"), "not really a library");
        Files.writeString(early.resolve("libnccl.so"), "not really a library");
        CudaLibraries libraries = new CudaLibraries(List.of(early, late));
        assertEquals(early.resolve("libnccl.so"), libraries.findFile(CudaLibraries.Library.NCCL).orElseThrow());
        assertTrue(libraries.findFile(CudaLibraries.Library.NVRTC).isEmpty());
    }

    @Test
    void aMissingLibraryNamesItselfEveryPlaceTriedAndWhatToDo(@TempDir Path empty) {
        CudaLibraries libraries = new CudaLibraries(List.of(empty));
        String message = libraries.notFoundMessage(CudaLibraries.Library.CUBLAS, List.of("libcublas.so.13: not found"));
        assertTrue(message.startsWith("cuBLAS not found"), message);
        assertTrue(message.contains("libcublas.so.13") && message.contains(empty.toString()), message);
        assertTrue(message.contains("CUDA_HOME") && message.contains("SPARKMOE_CUDA_LIB_PATH"), message);
    }
}
