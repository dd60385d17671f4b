package org.sparkmoe.jobs.cli;

import java.util.Objects;

/**
 * A documented setting of a job, as its {@code conf/<job>.properties} declares it ({@link JobConfFile}): the key,
 * the comment above it and the markers that comment starts with. The default value is the file's value.
 *
 * @param key         the settings key, e.g. {@code minhash.bands}; {@code --minhash.bands 14} and
 *                    {@code --set minhash.bands=14} both set it
 * @param description what it controls, its unit and its valid range
 * @param repeatable  ({@code [repeatable]}) the option may be given several times on the command line, as in
 *                    {@code --input a --input 'b/{x,y}.jsonl'}: each such value is one list item, commas included;
 *                    in a config file or {@code --set} the value is comma-separated
 * @param required    ({@code [required]}) the job cannot run without a value
 * @param flag        ({@code [switch]}) a boolean switch: {@code --no-special} alone means true
 *                    ({@code --no-special false} still works)
 */
public record JobOption(String key, String description, boolean repeatable, boolean required, boolean flag) {

    public JobOption {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(description, "description");
        if (key.isBlank() || key.startsWith("-")) {
            throw new IllegalArgumentException("option key must be a bare name, got '" + key + "'");
        }
        if (description.isBlank()) {
            throw new IllegalArgumentException("option " + key + " has no description");
        }
    }
}
