package org.sparkmoe.model.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * FFM bindings to NVRTC: compiles CUDA C++ source to a CUBIN for one real architecture ({@code sm_90a}).
 * A failed compile throws with NVRTC's error string and the full compile log.
 */
public final class Nvrtc {

    private final NativeLibrary lib;
    private final MethodHandle nvrtcGetErrorString;
    private final MethodHandle nvrtcVersion;
    private final MethodHandle nvrtcCreateProgram;
    private final MethodHandle nvrtcCompileProgram;
    private final MethodHandle nvrtcGetProgramLogSize;
    private final MethodHandle nvrtcGetProgramLog;
    private final MethodHandle nvrtcGetCUBINSize;
    private final MethodHandle nvrtcGetCUBIN;
    private final MethodHandle nvrtcDestroyProgram;

    Nvrtc(NativeLibrary lib) {
        this.lib = lib;
        nvrtcGetErrorString = lib.function("nvrtcGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        nvrtcVersion = fn("nvrtcVersion", ADDRESS, ADDRESS);
        nvrtcCreateProgram = fn("nvrtcCreateProgram", ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        nvrtcCompileProgram = fn("nvrtcCompileProgram", ADDRESS, JAVA_INT, ADDRESS);
        nvrtcGetProgramLogSize = fn("nvrtcGetProgramLogSize", ADDRESS, ADDRESS);
        nvrtcGetProgramLog = fn("nvrtcGetProgramLog", ADDRESS, ADDRESS);
        nvrtcGetCUBINSize = fn("nvrtcGetCUBINSize", ADDRESS, ADDRESS);
        nvrtcGetCUBIN = fn("nvrtcGetCUBIN", ADDRESS, ADDRESS);
        nvrtcDestroyProgram = fn("nvrtcDestroyProgram", ADDRESS);
    }

    private MethodHandle fn(String symbol, java.lang.foreign.MemoryLayout... args) {
        return lib.function(symbol, FunctionDescriptor.of(JAVA_INT, args));
    }

    public static Nvrtc load(CudaLibraries libraries) {
        return new Nvrtc(libraries.load(CudaLibraries.Library.NVRTC));
    }

    String libraryFile() {
        return lib.file().toString();
    }

    /** NVRTC's version as "major.minor". */
    public String version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment major = arena.allocate(JAVA_INT);
            MemorySegment minor = arena.allocate(JAVA_INT);
            check("nvrtcVersion", (int) nvrtcVersion.invokeExact(major, minor));
            return major.get(JAVA_INT, 0) + "." + minor.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    /** Compiles {@code source} (named {@code fileName} in messages) with the given options; returns the CUBIN. */
    public byte[] compileToCubin(String fileName, String source, List<String> options) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment programOut = arena.allocate(ADDRESS);
            check("nvrtcCreateProgram(" + fileName + ")", (int) nvrtcCreateProgram.invokeExact(programOut,
                    arena.allocateFrom(source), arena.allocateFrom(fileName), 0, MemorySegment.NULL, MemorySegment.NULL));
            MemorySegment program = programOut.get(ADDRESS, 0);
            try {
                MemorySegment optionPointers = arena.allocate(ADDRESS, Math.max(1, options.size()));
                for (int i = 0; i < options.size(); i++) {
                    optionPointers.setAtIndex(ADDRESS, i, arena.allocateFrom(options.get(i)));
                }
                int rc = (int) nvrtcCompileProgram.invokeExact(program, options.size(), optionPointers);
                if (rc != 0) {
                    throw new CudaException("NVRTC call nvrtcCompileProgram(" + fileName + ", " + options + ") failed with"
                            + " status " + rc + ": " + errorString(rc) + "\n" + log(arena, program));
                }
                MemorySegment size = arena.allocate(JAVA_LONG);
                check("nvrtcGetCUBINSize(" + fileName + ")", (int) nvrtcGetCUBINSize.invokeExact(program, size));
                MemorySegment cubin = arena.allocate(size.get(JAVA_LONG, 0));
                check("nvrtcGetCUBIN(" + fileName + ")", (int) nvrtcGetCUBIN.invokeExact(program, cubin));
                return cubin.toArray(JAVA_BYTE);
            } finally {
                check("nvrtcDestroyProgram", (int) nvrtcDestroyProgram.invokeExact(programOut));
            }
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    private String log(Arena arena, MemorySegment program) throws Throwable {
        MemorySegment size = arena.allocate(JAVA_LONG);
        check("nvrtcGetProgramLogSize", (int) nvrtcGetProgramLogSize.invokeExact(program, size));
        MemorySegment text = arena.allocate(Math.max(1, size.get(JAVA_LONG, 0)));
        check("nvrtcGetProgramLog", (int) nvrtcGetProgramLog.invokeExact(program, text));
        return text.getString(0);
    }

    private String errorString(int status) {
        try {
            return NativeLibrary.cString((MemorySegment) nvrtcGetErrorString.invokeExact(status));
        } catch (Throwable t) {
            throw CudaDriver.rethrow(t);
        }
    }

    private void check(String call, int status) {
        if (status != 0) {
            throw CudaException.callFailed("NVRTC", call, status, errorString(status));
        }
    }
}
