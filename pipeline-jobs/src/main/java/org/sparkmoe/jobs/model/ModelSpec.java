package org.sparkmoe.jobs.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;

/**
 * The model a job builds: a preset from {@code conf/models} or a model {@code .properties} file (any Hadoop URI),
 * with model config keys given as job settings ({@code --num_hidden_layers 4}) overriding its values. The keys are
 * the HF {@code config.json} names of {@code conf/models/*.properties}; the result is validated by
 * {@link ModelConfig} before any work starts.
 *
 * @param name       the preset name or file the model came from, with the overrides if any
 *                   ({@code 16b with num_hidden_layers=4})
 * @param properties every model config key and its value, overrides applied
 */
public record ModelSpec(String name, Properties properties) {

    /** The model config keys a job may override ({@link org.sparkmoe.jobs.cli.Job#overrideKeys()}). */
    public static final Set<String> KEYS = ModelPresets.KEYS;

    /**
     * Loads {@code nameOrPath} (a bundled preset, else a properties file read with {@code hadoop}) and applies
     * {@code overrides}; a missing file, a bad value or an inconsistent model is a {@link UsageException} that names it.
     */
    public static ModelSpec resolve(String nameOrPath, Map<String, String> overrides, Configuration hadoop) {
        Properties props = load(nameOrPath, hadoop);
        Map<String, String> sorted = new TreeMap<>(overrides);
        sorted.forEach(props::setProperty);
        String name = sorted.isEmpty() ? nameOrPath : nameOrPath + " with " + String.join(", ",
                sorted.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
        ModelSpec spec = new ModelSpec(name, props);
        try {
            spec.config();
        } catch (IllegalArgumentException e) {
            throw new UsageException("model " + name + " is invalid: " + e.getMessage()
                    + (sorted.isEmpty() ? "" : " (check the model config overrides " + sorted.keySet() + ")"), e);
        }
        return spec;
    }

    /** The validated model config. */
    public ModelConfig config() {
        return ModelPresets.fromProperties(name, properties);
    }

    private static Properties load(String nameOrPath, Configuration hadoop) {
        Properties preset = ModelPresets.properties(nameOrPath);
        if (preset != null) {
            return preset;
        }
        Properties props = new Properties();
        try {
            Path path = new Path(nameOrPath);
            FileSystem fs = path.getFileSystem(hadoop);
            if (!fs.exists(path)) {
                throw new UsageException("model '" + nameOrPath + "' is neither a preset (" + ModelPresets.NAMES
                        + ") nor an existing .properties file: give a preset name or the path (any Hadoop URI) of a model"
                        + " .properties file with every key of conf/models/tiny.properties");
            }
            try (InputStream in = fs.open(path)) {
                props.load(new InputStreamReader(in, StandardCharsets.UTF_8));
            }
            return props;
        } catch (IOException | IllegalArgumentException e) {
            throw new UsageException("cannot read model config " + nameOrPath + ": " + e.getMessage(), e);
        }
    }
}
