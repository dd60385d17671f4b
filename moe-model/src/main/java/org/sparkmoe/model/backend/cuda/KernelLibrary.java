package org.sparkmoe.model.backend.cuda;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compiles {@link KernelSources} with NVRTC for the device's real architecture ({@code sm_90a} on an H200), caches
 * each CUBIN on disk under the SHA-256 of (source, options, NVRTC version), loads the modules and hands out functions.
 */
final class KernelLibrary implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(KernelLibrary.class.getName());

    private final CudaDriver driver;
    private final Map<String, MemorySegment> functions = new HashMap<>();
    private final Map<String, MemorySegment> moduleByFile;
    private final int cacheHits;

    private KernelLibrary(CudaDriver driver, Map<String, MemorySegment> moduleByFile, int cacheHits) {
        this.driver = driver;
        this.moduleByFile = moduleByFile;
        this.cacheHits = cacheHits;
    }

    static KernelLibrary build(CudaDriver driver, Nvrtc nvrtc, String architecture, Path cacheFolder) {
        List<String> options = List.of("--gpu-architecture=" + architecture, "-std=c++17", "-default-device",
                "--fmad=true", "-lineinfo");
        String nvrtcVersion = nvrtc.version();
        int hits = 0;
        Map<String, MemorySegment> modules = new LinkedHashMap<>();
        for (String file : KernelSources.FILES) {
            String source = KernelSources.compilable(file);
            Path cached = cacheFolder.resolve(file + "-" + architecture + "-" + hash(source, options, nvrtcVersion) + ".cubin");
            byte[] cubin;
            if (Files.isRegularFile(cached)) {
                cubin = readAll(cached);
                hits++;
            } else {
                cubin = nvrtc.compileToCubin(file, source, options);
                writeAtomically(cached, cubin);
            }
            try (Arena arena = Arena.ofConfined()) {
                modules.put(file, driver.loadModule(arena.allocateFrom(ValueLayout.JAVA_BYTE, cubin)));
            }
        }
        LOG.log(System.Logger.Level.INFO, "CUDA kernels: {0} files for {1} with NVRTC {2} ({3} from the cache in {4})",
                KernelSources.FILES.size(), architecture, nvrtcVersion, hits, cacheFolder);
        return new KernelLibrary(driver, modules, hits);
    }

    int cacheHits() {
        return cacheHits;
    }

    /** The kernel entry point {@code name} (an {@code extern "C"} function in one of the sources). */
    synchronized MemorySegment function(String name) {
        MemorySegment found = functions.get(name);
        if (found != null) {
            return found;
        }
        for (Map.Entry<String, MemorySegment> module : moduleByFile.entrySet()) {
            if (KernelSources.entryPoints(module.getKey()).contains(name)) {
                found = driver.moduleFunction(module.getValue(), name);
                functions.put(name, found);
                return found;
            }
        }
        throw new CudaException("no kernel named " + name + " in " + KernelSources.FILES);
    }

    static Path defaultCacheFolder() {
        String configured = System.getProperty("sparkmoe.cuda.cacheDir");
        if (configured != null) {
            return Path.of(configured);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("sparkmoe").resolve("nvrtc");
    }

    static String hash(String source, List<String> options, String compilerVersion) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(source.getBytes(StandardCharsets.UTF_8));
            sha.update(String.join("\u0000", options).getBytes(StandardCharsets.UTF_8));
            sha.update(compilerVersion.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    private static byte[] readAll(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read cached kernel " + file, e);
        }
    }

    private static void writeAtomically(Path file, byte[] bytes) {
        try {
            Files.createDirectories(file.getParent());
            Path temporary = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp");
            Files.write(temporary, bytes);
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the kernel cache " + file + "; set -Dsparkmoe.cuda.cacheDir to a"
                    + " writable folder", e);
        }
    }

    @Override
    public void close() {
        for (MemorySegment module : moduleByFile.values()) {
            driver.unloadModule(module);
        }
    }
}
