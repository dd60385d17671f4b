package org.sparkmoe.model.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.testing.CorpusBytes;
import org.sparkmoe.model.testing.TestConfigs;

/**
 * An engine with {@code recompute-attention} keeps no q, k, v per layer (they live in buffers the layers share, and
 * backward computes each layer's again from its normed input): it allocates 3·R·D fp32 less per layer but one, and
 * trains bit for bit as the engine that keeps them: the same losses, gradient norms and parameters after steps of two
 * micro-batches each (every layer's forward overwriting the shared buffers before the backwards), for the MoE preset
 * (a dense first layer, shared experts) and a dense model.
 */
class RecomputedAttentionTest {

    static final String[] CORPUS = {"en_gutenberg.jsonl", "en_python_docs.jsonl", "en_wikitext.jsonl"};

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "dense"})
    void recomputingQKVTrainsBitForBitAsKeepingThem(String variant) {
        ModelConfig config = variant.equals("tiny")
                ? TestConfigs.preset("tiny", "vocab_size=256", "num_hidden_layers=3")
                : TestConfigs.preset("tiny", "vocab_size=256", "num_hidden_layers=3", "routing=dense",
                        "n_routed_experts=0", "n_shared_experts=0", "num_experts_per_tok=0");
        int batch = 4;
        int seqLenPlusOne = 33;
        TrainConfig keep = new TrainConfig(1e-2, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, 2);
        Run kept = train(config, keep, batch, seqLenPlusOne);
        Run recomputed = train(config, keep.withRecomputeAttention(true), batch, seqLenPlusOne);

        long rows = (long) keep.microBatch() * config.maxSeqLen();
        assertEquals(4L * 3 * rows * config.hiddenSize() * (config.numLayers() - 1),
                kept.allocatedBytes - recomputed.allocatedBytes, "q, k, v of every layer but one");
        assertArrayEquals(kept.losses, recomputed.losses, variant + ": losses");
        assertArrayEquals(kept.gradNorms, recomputed.gradNorms, variant + ": gradient norms");
        assertArrayEquals(kept.parameters, recomputed.parameters, variant + ": parameters");
    }

    private record Run(long allocatedBytes, double[] losses, double[] gradNorms, float[] parameters) {
    }

    private static Run train(ModelConfig config, TrainConfig trainConfig, int batch, int seqLenPlusOne) {
        CpuBackend backend = new CpuBackend(2);
        try (TrainingEngine engine = TrainingEngine.create(config, trainConfig, backend, 7)) {
            long allocated = backend.allocatedBytes();
            double[] losses = new double[CORPUS.length];
            double[] gradNorms = new double[CORPUS.length];
            for (int s = 0; s < CORPUS.length; s++) {
                StepMetrics m = engine.step(CorpusBytes.batch(CORPUS[s], batch, seqLenPlusOne), batch, seqLenPlusOne);
                losses[s] = m.loss();
                gradNorms[s] = m.gradNorm();
            }
            float[] parameters = new float[Math.toIntExact(engine.parameterCount())];
            engine.readParameters(parameters);
            return new Run(allocated, losses, gradNorms, parameters);
        }
    }
}
