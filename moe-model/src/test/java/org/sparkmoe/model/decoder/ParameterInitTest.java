package org.sparkmoe.model.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The initial parameter vector computed without an engine (what the Spark trainer's driver holds) is the engine's
 * own initialisation, bit for bit, for layouts with dense and MoE layers, with and without router weights.
 */
class ParameterInitTest {

    @ParameterizedTest
    @ValueSource(strings = {"routing=softmax-topk", "routing=hash;num_experts_per_tok=1", "first_k_dense_replace=0"})
    void initialValuesEqualTheEnginesInitialParameters(String overrides) {
        ModelConfig config = TestConfigs.preset("tiny", overrides.split(";"));
        long seed = 1234;
        float[] engineParams;
        try (TrainingEngine engine = TrainingEngine.create(config, TrainConfig.forInference(1), new CpuBackend(1), seed)) {
            engineParams = new float[Math.toIntExact(engine.parameterCount())];
            engine.readParameters(engineParams);
        }
        float[] withoutEngine = ParameterInit.initialValues(config, seed);
        assertEquals(engineParams.length, withoutEngine.length);
        assertArrayEquals(engineParams, withoutEngine);
        assertNotEquals(withoutEngine[0], ParameterInit.initialValues(config, seed + 1)[0], "the seed must matter");
    }
}
