package org.sparkmoe.jobs.cli;

import java.util.Objects;

/**
 * A documented setting of a job. The default value is not here: it lives in the job's {@code conf/} file.
 *
 * @param key         the settings key, e.g. {@code minhash.bands}; {@code --minhash.bands 14} and
 *                    {@code --set minhash.bands=14} both set it
 * @param description what it controls, its unit and its valid range
 * @param repeatable  true when the option may be given several times on the command line, as in
 *                    {@code --input a --input 'b/{x,y}.jsonl'}: each such value is one list item, commas included;
 *                    in a config file or {@code --set} the value is comma-separated
 * @param required    true when the job cannot run without a value
 * @param flag        true for a boolean switch: {@code --no-special} alone means true ({@code --no-special false}
 *                    still works)
 */
public record JobOption(String key, String description, boolean repeatable, boolean required, boolean flag) {

    public JobOption {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(description, "description");
        if (key.isBlank() || key.startsWith("-")) {
            throw new IllegalArgumentException("option key must be a bare name, got '" + key + "'");
        }
    }

    public static JobOption of(String key, String description) {
        return new JobOption(key, description, false, false, false);
    }

    public static JobOption required(String key, String description) {
        return new JobOption(key, description, false, true, false);
    }

    public static JobOption repeatable(String key, String description, boolean required) {
        return new JobOption(key, description, true, required, false);
    }

    public static JobOption flag(String key, String description) {
        return new JobOption(key, description, false, false, true);
    }
}
