package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.model.train.TrainConfig;

/**
 * The train job's {@code engine.*} settings as the engine's {@link TrainConfig}: {@code engine.recompute-attention}
 * is off by default (conf/train.properties), on from the command line, refused naming the key for a value that is
 * not true or false, and absent from the settings a run recorded before the option existed, which still build the
 * engine (keeping the attention's q, k, v, as those runs did).
 */
class EngineSettingsTest {

    private static TrainConfig trainConfig(JobSettings settings) {
        return EngineTrainerFactory.fromSettings(settings, TrainSettings.from(settings), "sha", new Configuration())
                .trainConfig();
    }

    private static JobSettings train(String... options) {
        List<String> args = new ArrayList<>(List.of("--manifest", "/data/any"));
        args.addAll(List.of(options));
        return JobSettings.resolve(new TrainJob(), args);
    }

    @Test
    void recomputeAttentionIsOffByDefaultAndSetOnTheCommandLine() {
        TrainConfig defaults = trainConfig(train());
        assertFalse(defaults.recomputeAttention());
        TrainConfig on = trainConfig(train("--engine.recompute-attention", "true", "--engine.micro-batch", "2"));
        assertTrue(on.recomputeAttention());
        assertEquals(2, on.microBatch());
        assertEquals(defaults.withMicroBatch(2).withRecomputeAttention(true), on, "the other keys as before");
        assertFalse(trainConfig(train("--set", "engine.recompute-attention=FALSE")).recomputeAttention());
    }

    @Test
    void aValueThatIsNotABooleanIsRefusedNamingTheKey() {
        UsageException e = assertThrows(UsageException.class,
                () -> trainConfig(train("--engine.recompute-attention", "sometimes")));
        assertTrue(e.getMessage().contains("engine.* settings are invalid")
                && e.getMessage().contains("recompute-attention=sometimes is not true or false"), e.getMessage());
    }

    @Test
    void aRunRecordedBeforeTheOptionKeepsTheAttentionsActivations() {
        Map<String, String> recorded = train().asMap();
        recorded.remove("engine.recompute-attention");
        JobSettings settings = JobSettings.of("train", recorded, "runs/old/config.properties");
        assertFalse(trainConfig(settings).recomputeAttention());
    }
}
