package org.sparkmoe.model.config;

/**
 * Parameter and FLOP counts of a {@link ModelConfig}, the way the paper reports them (Tables 1, 2 and 7).
 *
 * <p>Total parameters count every tensor of the checkpoint. Activated parameters are those one token uses: all
 * non-expert tensors (embedding and head included, as the paper's 16B figure 2.8B includes them), the shared
 * experts and K' routed experts per MoE layer. Training FLOPs per token follow DeepSeek LLM's
 * {@code 6·N + 12·L·d·T}: N = activated parameters except the embedding lookup, T = maximum sequence length.
 *
 * @param totalParams     every parameter
 * @param activatedParams parameters one token uses
 * @param flopsPerToken   training (forward + backward) FLOPs per token at sequence length {@code maxSeqLen}
 */
public record ModelSize(long totalParams, long activatedParams, double flopsPerToken) {

    /** Counts {@code config}. */
    public static ModelSize of(ModelConfig config) {
        long d = config.hiddenSize();
        long embedding = (long) config.vocabSize() * d;
        long total = 2 * embedding + d;
        long activated = total;
        for (int layer = 0; layer < config.numLayers(); layer++) {
            long common = 2 * d + 4 * d * d;
            total += common;
            activated += common;
            if (config.isMoeLayer(layer)) {
                long router = config.hasRouterWeights() ? (long) config.nRoutedExperts() * d : 0;
                long expert = 3 * d * config.moeIntermediateSize();
                long shared = 3 * d * config.sharedIntermediateSize();
                total += router + shared + config.nRoutedExperts() * expert;
                activated += router + shared + config.numExpertsPerTok() * expert;
            } else {
                long dense = 3 * d * config.intermediateSize();
                total += dense;
                activated += dense;
            }
        }
        double flops = 6.0 * (activated - embedding)
                + 12.0 * config.numLayers() * d * config.maxSeqLen();
        return new ModelSize(total, activated, flops);
    }

    /** A billions figure rounded as the paper prints it, e.g. {@code 16.4B}. */
    public static String billions(long params) {
        return String.format(java.util.Locale.ROOT, "%.1fB", params / 1e9);
    }
}
