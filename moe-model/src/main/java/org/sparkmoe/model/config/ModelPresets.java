package org.sparkmoe.model.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * Model presets: {@code conf/models/<name>.properties}, bundled on the classpath as
 * {@code sparkmoe-conf/models/<name>.properties}. Every key is required (the preset is the one place a value is
 * written); unknown keys are refused so that a typo cannot silently fall back to something else.
 */
public final class ModelPresets {

    /** The presets that ship in {@code conf/models}. */
    public static final List<String> NAMES = List.of("tiny", "small", "val-2b", "val-2b-dense", "val-2b-hash",
            "val-2b-switch", "val-2b-gshard", "cmp-dense", "cmp-hash", "cmp-switch", "cmp-gshard", "cmp-deepseekmoe",
            "16b", "145b");

    /** Every key of a preset: the HF config.json names. */
    public static final Set<String> KEYS = Set.of("vocab_size", "num_hidden_layers", "hidden_size", "num_attention_heads",
            "intermediate_size", "moe_intermediate_size", "n_routed_experts", "n_shared_experts",
            "num_experts_per_tok", "first_k_dense_replace", "moe_layer_freq", "norm_topk_prob", "routing",
            "aux_loss_alpha", "seq_aux", "device_loss_alpha", "device_groups", "rope_theta", "rms_norm_eps",
            "max_position_embeddings", "init_std");

    private ModelPresets() {
    }

    /** Loads a bundled preset by name, e.g. {@code tiny}. */
    public static ModelConfig load(String name) {
        Properties props = properties(name);
        if (props == null) {
            throw new IllegalArgumentException("model preset '" + name + "' does not exist: use one of " + NAMES
                    + " or a properties file path");
        }
        return fromProperties(name, props);
    }

    /** The keys of bundled preset {@code name} (to override some before {@link #fromProperties}); null if none. */
    public static Properties properties(String name) {
        String resource = "sparkmoe-conf/models/" + name + ".properties";
        try (InputStream in = ModelPresets.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                return null;
            }
            Properties props = new Properties();
            props.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
            return props;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read model preset " + resource, e);
        }
    }

    /** Loads a preset name ({@link #NAMES}) or, if {@code nameOrPath} is an existing file, that properties file. */
    public static ModelConfig resolve(String nameOrPath) {
        Path path = Path.of(nameOrPath);
        if (nameOrPath.endsWith(".properties") && Files.isRegularFile(path)) {
            Properties props = new Properties();
            try (Reader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
                props.load(reader);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("cannot read model config " + path, e);
            }
            String file = path.getFileName().toString();
            return fromProperties(file.substring(0, file.length() - ".properties".length()), props);
        }
        return load(nameOrPath);
    }

    /** Builds a config from preset keys (see {@code conf/models/tiny.properties} for their meaning). */
    public static ModelConfig fromProperties(String name, Properties props) {
        Set<String> unknown = new TreeSet<>(props.stringPropertyNames());
        unknown.removeAll(KEYS);
        Set<String> missing = new TreeSet<>(KEYS);
        missing.removeAll(props.stringPropertyNames());
        if (!unknown.isEmpty() || !missing.isEmpty()) {
            throw new IllegalArgumentException("model preset '" + name + "': "
                    + (unknown.isEmpty() ? "" : "unknown keys " + unknown + " ")
                    + (missing.isEmpty() ? "" : "missing keys " + missing) + " (keys are " + new TreeSet<>(KEYS) + ")");
        }
        Field f = new Field(name, props);
        return new ModelConfig(name, f.i("vocab_size"), f.i("num_hidden_layers"), f.i("hidden_size"),
                f.i("num_attention_heads"), f.i("intermediate_size"), f.i("moe_intermediate_size"),
                f.i("n_routed_experts"), f.i("n_shared_experts"), f.i("num_experts_per_tok"),
                f.i("first_k_dense_replace"), f.i("moe_layer_freq"), f.b("norm_topk_prob"),
                Routing.parse(props.getProperty("routing")), f.d("aux_loss_alpha"), f.b("seq_aux"),
                f.d("device_loss_alpha"), f.i("device_groups"), f.d("rope_theta"), f.d("rms_norm_eps"),
                f.i("max_position_embeddings"), f.d("init_std"));
    }

    private record Field(String preset, Properties props) {
        int i(String key) {
            String v = props.getProperty(key).trim();
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("model preset '" + preset + "': " + key + "=" + v
                        + " is not an integer");
            }
        }

        double d(String key) {
            String v = props.getProperty(key).trim();
            try {
                return Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("model preset '" + preset + "': " + key + "=" + v
                        + " is not a number");
            }
        }

        boolean b(String key) {
            String v = props.getProperty(key).trim();
            if (!v.equals("true") && !v.equals("false")) {
                throw new IllegalArgumentException("model preset '" + preset + "': " + key + "=" + v
                        + " must be true or false");
            }
            return Boolean.parseBoolean(v);
        }
    }
}
