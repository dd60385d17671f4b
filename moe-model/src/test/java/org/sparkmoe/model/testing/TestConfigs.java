package org.sparkmoe.model.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;

/** Bundled presets with some keys overridden, for tests. */
public final class TestConfigs {

    private TestConfigs() {
    }

    /**
     * {@code tiny} over bytes (vocabulary 256) with weights large enough that the router's top-2 is never a near-tie
     * that float rounding could flip: for comparing two ways of computing the same logits.
     */
    public static ModelConfig tinyWithClearRouting() {
        return preset("tiny", "vocab_size=256", "init_std=0.05");
    }

    /** Preset {@code name} with {@code key=value} overrides. */
    public static ModelConfig preset(String name, String... overrides) {
        Properties props = new Properties();
        try (InputStream in = TestConfigs.class.getClassLoader()
                .getResourceAsStream("sparkmoe-conf/models/" + name + ".properties")) {
            props.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (String o : overrides) {
            int eq = o.indexOf('=');
            props.setProperty(o.substring(0, eq), o.substring(eq + 1));
        }
        return ModelPresets.fromProperties(name, props);
    }
}
