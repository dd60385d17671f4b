package org.sparkmoe.jobs.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.model.generate.GenerationConfig;

/**
 * The settings one prompt is continued with: the job's ({@code conf/generate.properties}, the command line), each
 * of which a prompt line may override under the same name ({@code {"prompt": "...", "top-k": 1}}).
 *
 * @param greedy       the most likely token at every step (as temperature 0)
 * @param temperature  softmax temperature (&gt;= 0) when not greedy
 * @param topK         sample among the k most likely tokens; 0 = all
 * @param topP         nucleus sampling in (0, 1]; 1 = all
 * @param seed         the seed of the prompt's own random stream
 * @param maxNewTokens the most tokens to generate
 * @param stopAtEos    stop once the EOS token is generated
 */
record PromptSettings(boolean greedy, double temperature, int topK, double topP, long seed, int maxNewTokens,
                      boolean stopAtEos) {

    /** The keys a prompt line may override, as the job's options name them. */
    static final List<String> KEYS = List.of("greedy", "temperature", "top-k", "top-p", "seed", "max-new-tokens",
            "stop-at-eos");

    /** The job's settings, checked by building a config from them (a bad value is a usage error naming the key). */
    static PromptSettings from(JobSettings settings) {
        PromptSettings s = new PromptSettings(settings.bool("greedy"), settings.number("temperature"),
                settings.integer("top-k"), settings.number("top-p"), settings.longValue("seed"),
                settings.integer("max-new-tokens"), settings.bool("stop-at-eos"));
        try {
            s.config(-1);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage() + " (in the job's settings)", e);
        }
        return s;
    }

    /**
     * These settings with the overrides of one prompt line's object; throws {@link IllegalArgumentException} naming a
     * key of the wrong type.
     */
    PromptSettings overriddenBy(JsonNode line) {
        return new PromptSettings(bool(line, "greedy", greedy), number(line, "temperature", temperature),
                integer(line, "top-k", topK), number(line, "top-p", topP), whole(line, "seed", seed),
                integer(line, "max-new-tokens", maxNewTokens), bool(line, "stop-at-eos", stopAtEos));
    }

    /** The engine's config, with {@code eosId} as the stop token when {@link #stopAtEos}. */
    GenerationConfig config(int eosId) {
        return new GenerationConfig(maxNewTokens, greedy ? 0 : temperature, topK, topP, seed, stopAtEos ? eosId : -1);
    }

    private static boolean bool(JsonNode line, String key, boolean fallback) {
        JsonNode v = line.get(key);
        if (v == null) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException("\"" + key + "\" must be true or false, not " + v);
        }
        return v.asBoolean();
    }

    private static double number(JsonNode line, String key, double fallback) {
        JsonNode v = line.get(key);
        if (v == null) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw new IllegalArgumentException("\"" + key + "\" must be a number, not " + v);
        }
        return v.asDouble();
    }

    private static long whole(JsonNode line, String key, long fallback) {
        JsonNode v = line.get(key);
        if (v == null) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new IllegalArgumentException("\"" + key + "\" must be a whole number, not " + v);
        }
        return v.asLong();
    }

    private static int integer(JsonNode line, String key, int fallback) {
        long v = whole(line, key, fallback);
        if (v != (int) v) {
            throw new IllegalArgumentException("\"" + key + "\" is " + v + ", too large");
        }
        return (int) v;
    }
}
