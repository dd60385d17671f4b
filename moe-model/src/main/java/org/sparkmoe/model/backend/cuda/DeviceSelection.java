package org.sparkmoe.model.backend.cuda;

/**
 * Which GPU to use: a device ordinal and where it came from (a Spark task's {@code gpu} resource address, or the
 * {@code --device} option). Bad input is refused with a message naming the input and the accepted forms.
 *
 * @param ordinal the CUDA device ordinal (0-based) as the process sees it
 * @param source  where the choice came from, for the start-up log
 */
public record DeviceSelection(int ordinal, String source) {

    public DeviceSelection {
        if (ordinal < 0) {
            throw new IllegalArgumentException("device ordinal " + ordinal + " from " + source + " is negative; use 0, 1, ...");
        }
    }

    /** {@code --device} accepts {@code N} or {@code cuda:N}. */
    public static DeviceSelection fromDeviceOption(String value) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("--device is empty; give a CUDA device ordinal such as 0 or cuda:0");
        }
        String trimmed = value.trim();
        String number = trimmed.startsWith("cuda:") ? trimmed.substring(5) : trimmed;
        return new DeviceSelection(parseOrdinal(number, "--device " + value), "--device " + trimmed);
    }

    /**
     * A Spark task's GPU addresses ({@code TaskContext.get().resources().get("gpu").addresses()}); the task uses the
     * first. Spark's discovery script reports the ordinals the executor may use, as strings.
     */
    public static DeviceSelection fromSparkGpuAddresses(String[] addresses) {
        if (addresses == null || addresses.length == 0) {
            throw new IllegalArgumentException("the Spark task has no 'gpu' resource address; request one with"
                    + " spark.task.resource.gpu.amount=1 and an executor GPU discovery script");
        }
        return new DeviceSelection(parseOrdinal(addresses[0].trim(), "Spark gpu resource address '" + addresses[0] + "'"),
                "Spark task gpu resource address " + addresses[0].trim());
    }

    private static int parseOrdinal(String text, String input) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(input + " is not a CUDA device ordinal; use a number such as 0 (or cuda:0)");
        }
    }
}
