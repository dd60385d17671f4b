package org.sparkmoe.model.backend.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Finds the CUDA libraries by their usual names and places. Search order, first hit wins:
 * {@code SPARKMOE_CUDA_LIB_PATH} (colon-separated folders, for libraries outside the toolkit such as a pip-installed
 * NCCL), {@code $CUDA_HOME/lib64} and {@code $CUDA_HOME/targets/x86_64-linux/lib}, the same under
 * {@code /usr/local/cuda}, {@code /usr/lib/x86_64-linux-gnu}; then the system loader by soname
 * ({@code LD_LIBRARY_PATH}, ld.so.cache), which is how the driver's {@code libcuda.so.1} is normally found.
 */
public final class CudaLibraries {

    /** One library we bind: a display name and the file names it goes by, newest first. */
    public enum Library {
        DRIVER("CUDA driver", "libcuda.so.1", "libcuda.so"),
        NVRTC("NVRTC", "libnvrtc.so.13", "libnvrtc.so"),
        CUBLAS("cuBLAS", "libcublas.so.13", "libcublas.so"),
        NCCL("NCCL", "libnccl.so.2", "libnccl.so");

        final String displayName;
        final List<String> fileNames;

        Library(String displayName, String... fileNames) {
            this.displayName = displayName;
            this.fileNames = List.of(fileNames);
        }
    }

    private final List<Path> searchFolders;

    CudaLibraries(List<Path> searchFolders) {
        this.searchFolders = List.copyOf(searchFolders);
    }

    /** The search folders for this process's environment. */
    public static CudaLibraries fromEnvironment() {
        return new CudaLibraries(searchFolders(System.getenv()));
    }

    static List<Path> searchFolders(Map<String, String> env) {
        LinkedHashSet<Path> folders = new LinkedHashSet<>();
        String extra = env.get("SPARKMOE_CUDA_LIB_PATH");
        if (extra != null) {
            for (String folder : extra.split(":")) {
                if (!folder.isBlank()) {
                    folders.add(Path.of(folder));
                }
            }
        }
        List<String> homes = new ArrayList<>();
        if (env.get("CUDA_HOME") != null) {
            homes.add(env.get("CUDA_HOME"));
        }
        homes.add("/usr/local/cuda");
        for (String home : homes) {
            folders.add(Path.of(home, "lib64"));
            folders.add(Path.of(home, "targets", "x86_64-linux", "lib"));
        }
        folders.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        return List.copyOf(folders);
    }

    /** The first file of this library in the search folders, if any is there. */
    Optional<Path> findFile(Library library) {
        for (Path folder : searchFolders) {
            for (String fileName : library.fileNames) {
                Path candidate = folder.resolve(fileName);
                if (Files.isRegularFile(candidate)) {
                    return Optional.of(candidate);
                }
            }
        }
        return Optional.empty();
    }

    /** Loads the library from the search folders, else through the system loader; names every place tried if neither works. */
    NativeLibrary load(Library library) {
        Optional<Path> file = findFile(library);
        if (file.isPresent()) {
            return NativeLibrary.load(library.displayName, file.get());
        }
        List<String> loaderErrors = new ArrayList<>();
        for (String fileName : library.fileNames) {
            try {
                return NativeLibrary.loadBySoname(library.displayName, fileName);
            } catch (IllegalArgumentException e) {
                loaderErrors.add(fileName + ": " + e.getMessage());
            }
        }
        throw new CudaException(notFoundMessage(library, loaderErrors));
    }

    String notFoundMessage(Library library, List<String> loaderErrors) {
        return library.displayName + " not found: looked for " + library.fileNames + " in " + searchFolders
                + " and through the system loader (" + String.join("; ", loaderErrors) + "). Install the CUDA 13"
                + " toolkit or driver, set CUDA_HOME, or add the library's folder to SPARKMOE_CUDA_LIB_PATH.";
    }

    List<Path> searchFoldersInOrder() {
        return searchFolders;
    }
}
