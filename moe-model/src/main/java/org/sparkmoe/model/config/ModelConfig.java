package org.sparkmoe.model.config;

import java.util.ArrayList;
import java.util.List;

/**
 * The shape and routing of a DeepSeekMoE-style decoder (paper §2–§3, arXiv 2401.06066). Field names follow the HF
 * {@code config.json} keys of DeepSeekMoE 16B so that a preset, our checkpoints and foreign checkpoints read alike.
 *
 * <p>Layer {@code l} is an MoE layer iff the routing is not {@link Routing#DENSE}, {@code l >= firstKDenseReplace}
 * and {@code l % moeLayerFreq == 0}; otherwise it is a dense SwiGLU of {@code intermediateSize}. Routed experts
 * have width {@code moeIntermediateSize}; the {@code nSharedExperts} shared experts are one fused SwiGLU of width
 * {@code nSharedExperts * moeIntermediateSize} with gate weight 1.
 *
 * @param name               preset name (informational)
 * @param vocabSize          token vocabulary (embedding rows, head rows)
 * @param numLayers          decoder layers
 * @param hiddenSize         model width d
 * @param numHeads           attention heads (multi-head, head dim = hiddenSize / numHeads, must be even for RoPE)
 * @param intermediateSize   dense FFN width (dense layers and the Dense baseline)
 * @param moeIntermediateSize width of one routed (and one shared) expert
 * @param nRoutedExperts     routed experts per MoE layer (N')
 * @param nSharedExperts     shared experts per MoE layer (K_s)
 * @param numExpertsPerTok   routed experts per token (K')
 * @param firstKDenseReplace the first layers that stay dense
 * @param moeLayerFreq       every how many layers an MoE layer sits
 * @param normTopkProb       renormalise the K' gate weights to sum 1 (off in DeepSeekMoE)
 * @param routing            router kind
 * @param auxLossAlpha       expert-level balance factor alpha1 (0 = off)
 * @param seqAux             expert-level balance per sequence (paper) instead of per batch
 * @param deviceLossAlpha    device-level balance factor alpha2 (0 = off)
 * @param deviceGroups       D: routed experts are split into D equal contiguous groups for the device-level loss;
 *                           with expert parallelism, the rank count (group d = the experts rank d holds)
 * @param ropeTheta          RoPE base
 * @param rmsNormEps         RMSNorm epsilon
 * @param maxSeqLen          longest sequence (RoPE tables)
 * @param initStd            std of the normal init of every matrix (paper: 0.006)
 */
public record ModelConfig(
        String name,
        int vocabSize,
        int numLayers,
        int hiddenSize,
        int numHeads,
        int intermediateSize,
        int moeIntermediateSize,
        int nRoutedExperts,
        int nSharedExperts,
        int numExpertsPerTok,
        int firstKDenseReplace,
        int moeLayerFreq,
        boolean normTopkProb,
        Routing routing,
        double auxLossAlpha,
        boolean seqAux,
        double deviceLossAlpha,
        int deviceGroups,
        double ropeTheta,
        double rmsNormEps,
        int maxSeqLen,
        double initStd) {

    public ModelConfig {
        List<String> problems = new ArrayList<>();
        positive(problems, "vocab_size", vocabSize);
        positive(problems, "num_hidden_layers", numLayers);
        positive(problems, "hidden_size", hiddenSize);
        positive(problems, "num_attention_heads", numHeads);
        positive(problems, "max_position_embeddings", maxSeqLen);
        positive(problems, "moe_layer_freq", moeLayerFreq);
        positive(problems, "device_groups", deviceGroups);
        if (routing == null) {
            problems.add("routing is missing: use dense, softmax-topk or hash");
        }
        if (numHeads > 0 && hiddenSize % numHeads != 0) {
            problems.add("num_attention_heads=" + numHeads + " does not divide hidden_size=" + hiddenSize);
        } else if (numHeads > 0 && (hiddenSize / numHeads) % 2 != 0) {
            problems.add("head dim hidden_size/num_attention_heads=" + hiddenSize / numHeads
                    + " must be even for rotate-half RoPE");
        }
        if (firstKDenseReplace < 0) {
            problems.add("first_k_dense_replace=" + firstKDenseReplace + " must be >= 0");
        }
        if (!(rmsNormEps > 0)) {
            problems.add("rms_norm_eps=" + rmsNormEps + " must be > 0");
        }
        if (!(ropeTheta > 0)) {
            problems.add("rope_theta=" + ropeTheta + " must be > 0");
        }
        if (!(initStd > 0)) {
            problems.add("init_std=" + initStd + " must be > 0");
        }
        if (auxLossAlpha < 0 || deviceLossAlpha < 0) {
            problems.add("aux_loss_alpha=" + auxLossAlpha + " and device_loss_alpha=" + deviceLossAlpha
                    + " must be >= 0");
        }
        boolean anyDense = routing == Routing.DENSE || firstKDenseReplace > 0 || moeLayerFreq > 1;
        if (anyDense) {
            positive(problems, "intermediate_size (some layers are dense)", intermediateSize);
        }
        if (routing != null && routing != Routing.DENSE) {
            positive(problems, "n_routed_experts", nRoutedExperts);
            positive(problems, "num_experts_per_tok", numExpertsPerTok);
            positive(problems, "moe_intermediate_size", moeIntermediateSize);
            if (nSharedExperts < 0) {
                problems.add("n_shared_experts=" + nSharedExperts + " must be >= 0");
            }
            if (numExpertsPerTok > nRoutedExperts) {
                problems.add("num_experts_per_tok=" + numExpertsPerTok + " is larger than n_routed_experts="
                        + nRoutedExperts);
            }
            if (routing == Routing.HASH && numExpertsPerTok != 1) {
                problems.add("routing=hash needs num_experts_per_tok=1 (got " + numExpertsPerTok + ")");
            }
            if (deviceGroups > 0 && nRoutedExperts % deviceGroups != 0) {
                problems.add("device_groups=" + deviceGroups + " does not divide n_routed_experts=" + nRoutedExperts);
            }
        } else if (routing == Routing.DENSE && (nRoutedExperts != 0 || nSharedExperts != 0)) {
            problems.add("routing=dense needs n_routed_experts=0 and n_shared_experts=0 (got " + nRoutedExperts
                    + " and " + nSharedExperts + "): shared experts without routed ones are a dense FFN,"
                    + " set intermediate_size instead");
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("model config '" + name + "' is inconsistent: "
                    + String.join("; ", problems));
        }
    }

    private static void positive(List<String> problems, String field, long value) {
        if (value <= 0) {
            problems.add(field + "=" + value + " must be > 0");
        }
    }

    /** Per-head width. */
    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** Whether layer {@code layer} is an MoE layer (the reference {@code modeling_deepseek.py}'s rule). */
    public boolean isMoeLayer(int layer) {
        return routing != Routing.DENSE && layer >= firstKDenseReplace && layer % moeLayerFreq == 0;
    }

    /** Width of the fused shared-expert SwiGLU (0 when there are none). */
    public int sharedIntermediateSize() {
        return nSharedExperts * moeIntermediateSize;
    }

    /** Whether MoE layers have router weights ({@code mlp.gate.weight}). */
    public boolean hasRouterWeights() {
        return routing == Routing.SOFTMAX_TOPK;
    }

    /** Number of MoE layers. */
    public int moeLayerCount() {
        int count = 0;
        for (int l = 0; l < numLayers; l++) {
            if (isMoeLayer(l)) {
                count++;
            }
        }
        return count;
    }

    /** This config with {@code layers} decoder layers ({@code num_hidden_layers}), everything else the same. */
    public ModelConfig withNumLayers(int layers) {
        return new ModelConfig(name, vocabSize, layers, hiddenSize, numHeads, intermediateSize, moeIntermediateSize,
                nRoutedExperts, nSharedExperts, numExpertsPerTok, firstKDenseReplace, moeLayerFreq, normTopkProb, routing,
                auxLossAlpha, seqAux, deviceLossAlpha, deviceGroups, ropeTheta, rmsNormEps, maxSeqLen, initStd);
    }

    /** This config with sequences of up to {@code tokens} ({@code max_position_embeddings}). */
    public ModelConfig withMaxSeqLen(int tokens) {
        return new ModelConfig(name, vocabSize, numLayers, hiddenSize, numHeads, intermediateSize, moeIntermediateSize,
                nRoutedExperts, nSharedExperts, numExpertsPerTok, firstKDenseReplace, moeLayerFreq, normTopkProb, routing,
                auxLossAlpha, seqAux, deviceLossAlpha, deviceGroups, ropeTheta, rmsNormEps, tokens, initStd);
    }
}
