package org.sparkmoe.model.backend.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.sparkmoe.model.backend.MemoryInfo;

/**
 * The physical memory the CPU backend's off-heap tensors can take: {@code MemAvailable} and {@code MemTotal} of
 * {@code /proc/meminfo}, lowered to a cgroup v2 limit ({@code memory.max} less {@code memory.current}) when the
 * process runs in a container. Off-heap arenas are not bounded by {@code -Xmx} or {@code -XX:MaxDirectMemorySize},
 * so physical memory is the limit. Where neither file is readable (not Linux) the figures are unknown and the
 * backend says so in its {@link MemoryInfo#source()}.
 */
final class HostMemory {

    private static final Path MEMINFO = Path.of("/proc/meminfo");
    private static final Path CGROUP = Path.of("/sys/fs/cgroup");

    private HostMemory() {
    }

    static MemoryInfo now() {
        long available = -1;
        long total = -1;
        try {
            for (String line : Files.readAllLines(MEMINFO)) {
                if (line.startsWith("MemAvailable:")) {
                    available = kib(line);
                } else if (line.startsWith("MemTotal:")) {
                    total = kib(line);
                }
            }
        } catch (IOException | RuntimeException e) {
            return new MemoryInfo(Long.MAX_VALUE, Long.MAX_VALUE, "unknown (" + MEMINFO + " unreadable: " + e
                    + "); no physical limit checked");
        }
        String source = "MemAvailable of " + MEMINFO;
        long limit = cgroupValue("memory.max");
        long used = cgroupValue("memory.current");
        if (limit > 0 && used >= 0 && limit - used < available) {
            available = limit - used;
            total = Math.min(total, limit);
            source = "cgroup memory.max less memory.current";
        }
        return new MemoryInfo(available, total, source);
    }

    private static long kib(String line) {
        List<String> parts = List.of(line.trim().split("\\s+"));
        return Long.parseLong(parts.get(1)) * 1024;
    }

    /** A cgroup v2 file's number, or -1 when absent, unreadable or "max". */
    private static long cgroupValue(String file) {
        try {
            String value = Files.readString(CGROUP.resolve(file)).trim();
            return value.equals("max") ? -1 : Long.parseLong(value);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
