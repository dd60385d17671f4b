package org.sparkmoe.model.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One loaded shared library and downcall handles into it. Libraries stay loaded for the life of the JVM
 * (global arena): CUDA's libraries keep process-wide state and must not be unloaded under a live context.
 */
final class NativeLibrary {

    private static final Linker LINKER = Linker.nativeLinker();

    private final String name;
    private final Path file;
    private final SymbolLookup lookup;

    private NativeLibrary(String name, Path file, SymbolLookup lookup) {
        this.name = name;
        this.file = file;
        this.lookup = lookup;
    }

    static NativeLibrary load(String name, Path file) {
        return new NativeLibrary(name, file, SymbolLookup.libraryLookup(file, Arena.global()));
    }

    /** Loads by soname through the system loader (ld.so.cache, LD_LIBRARY_PATH), as the driver's libcuda.so.1 is found. */
    static NativeLibrary loadBySoname(String name, String soname) {
        return new NativeLibrary(name, Path.of(soname), SymbolLookup.libraryLookup(soname, Arena.global()));
    }

    String name() {
        return name;
    }

    Path file() {
        return file;
    }

    MethodHandle function(String symbol, FunctionDescriptor descriptor) {
        MemorySegment address = lookup.find(symbol).orElseThrow(() -> new CudaException(
                name + " (" + file + ") has no symbol " + symbol + "; the library is older than this binding needs"
                        + " (CUDA 13 or newer)."));
        return LINKER.downcallHandle(address, descriptor);
    }

    Optional<MethodHandle> optionalFunction(String symbol, FunctionDescriptor descriptor) {
        return lookup.find(symbol).map(address -> LINKER.downcallHandle(address, descriptor));
    }

    static String cString(MemorySegment pointer) {
        return pointer.equals(MemorySegment.NULL) ? "(no message)" : pointer.reinterpret(4096).getString(0);
    }
}
