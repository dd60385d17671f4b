package org.sparkmoe.model.backend;

/**
 * The memory a backend allocates tensors from, as it stands: {@code freeBytes} available now, {@code totalBytes} in
 * all, and {@code source} saying where the figures come from (for messages: "cuMemGetInfo on device 0",
 * "MemAvailable of /proc/meminfo", "the configured limit of 1 GiB").
 */
public record MemoryInfo(long freeBytes, long totalBytes, String source) {
}
