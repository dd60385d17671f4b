package org.sparkmoe.model.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.Routing;

/**
 * HF-style {@code config.json} of DeepSeekMoE 16B (as deepseek-ai/deepseek-moe-16b-base's: {@code model_type
 * "deepseek"}). Keys the
 * reference has no name for (routing kind, device-level loss, init std) are written with a {@code sparkmoe_}
 * prefix. Reading a foreign config without them takes the reference code's behaviour: softmax routing when
 * {@code n_routed_experts} is set (dense otherwise), no device-level loss, and the paper's init std 0.006.
 */
public final class HfConfig {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final double PAPER_INIT_STD = 0.006;

    private HfConfig() {
    }

    /** Writes {@code c} as JSON to {@code out} (not closed). */
    public static void write(ModelConfig c, OutputStream out) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add("DeepseekForCausalLM");
        o.put("model_type", "deepseek");
        o.put("vocab_size", c.vocabSize());
        o.put("hidden_size", c.hiddenSize());
        o.put("intermediate_size", c.intermediateSize());
        o.put("moe_intermediate_size", c.moeIntermediateSize());
        o.put("num_hidden_layers", c.numLayers());
        o.put("num_attention_heads", c.numHeads());
        o.put("num_key_value_heads", c.numHeads());
        if (c.routing() == Routing.DENSE) {
            o.putNull("n_routed_experts");
            o.putNull("n_shared_experts");
            o.putNull("num_experts_per_tok");
        } else {
            o.put("n_routed_experts", c.nRoutedExperts());
            o.put("n_shared_experts", c.nSharedExperts());
            o.put("num_experts_per_tok", c.numExpertsPerTok());
        }
        o.put("first_k_dense_replace", c.firstKDenseReplace());
        o.put("moe_layer_freq", c.moeLayerFreq());
        o.put("norm_topk_prob", c.normTopkProb());
        o.put("scoring_func", "softmax");
        o.put("aux_loss_alpha", c.auxLossAlpha());
        o.put("seq_aux", c.seqAux());
        o.put("hidden_act", "silu");
        o.put("max_position_embeddings", c.maxSeqLen());
        o.put("rms_norm_eps", c.rmsNormEps());
        o.put("rope_theta", c.ropeTheta());
        o.putNull("rope_scaling");
        o.put("attention_bias", false);
        o.put("tie_word_embeddings", false);
        o.put("torch_dtype", "float32");
        o.put("sparkmoe_preset", c.name());
        o.put("sparkmoe_routing", c.routing().spelling());
        o.put("sparkmoe_device_loss_alpha", c.deviceLossAlpha());
        o.put("sparkmoe_device_groups", c.deviceGroups());
        o.put("sparkmoe_init_std", c.initStd());
        out.write(JSON.writeValueAsBytes(o));
    }

    /**
     * Reads a config from {@code in}; {@code file} names it in messages, and {@code defaultName} is the model's name
     * when it has no {@code sparkmoe_preset} (a foreign checkpoint: its directory's name).
     */
    public static ModelConfig read(InputStream in, String file, String defaultName) throws IOException {
        JsonNode o = JSON.readTree(in);
        String type = o.path("model_type").asText("");
        if (!type.equals("deepseek")) {
            throw new IllegalArgumentException(file + ": model_type is '" + type
                    + "'; only DeepSeekMoE ('deepseek') checkpoints are read");
        }
        boolean moe = !o.path("n_routed_experts").isNull() && !o.path("n_routed_experts").isMissingNode();
        Routing routing = o.has("sparkmoe_routing") ? Routing.parse(o.get("sparkmoe_routing").asText())
                : moe ? Routing.SOFTMAX_TOPK : Routing.DENSE;
        if (o.has("num_key_value_heads") && o.get("num_key_value_heads").asInt() != o.path("num_attention_heads")
                .asInt()) {
            throw new IllegalArgumentException(file + ": num_key_value_heads differs from num_attention_heads;"
                    + " only multi-head attention (DeepSeekMoE) is supported");
        }
        if (!o.path("scoring_func").asText("softmax").equals("softmax")) {
            throw new IllegalArgumentException(file + ": scoring_func " + o.get("scoring_func")
                    + " is not supported (DeepSeekMoE uses softmax)");
        }
        return new ModelConfig(o.path("sparkmoe_preset").asText(defaultName),
                req(o, "vocab_size", file), req(o, "num_hidden_layers", file), req(o, "hidden_size", file),
                req(o, "num_attention_heads", file), o.path("intermediate_size").asInt(0),
                moe ? req(o, "moe_intermediate_size", file) : 0, moe ? o.get("n_routed_experts").asInt() : 0,
                moe ? o.path("n_shared_experts").asInt(0) : 0, moe ? req(o, "num_experts_per_tok", file) : 0,
                o.path("first_k_dense_replace").asInt(0), o.path("moe_layer_freq").asInt(1),
                o.path("norm_topk_prob").asBoolean(false), routing, o.path("aux_loss_alpha").asDouble(0),
                o.path("seq_aux").asBoolean(true), o.path("sparkmoe_device_loss_alpha").asDouble(0),
                o.path("sparkmoe_device_groups").asInt(1), o.path("rope_theta").asDouble(10000),
                o.path("rms_norm_eps").asDouble(1e-6), req(o, "max_position_embeddings", file),
                o.path("sparkmoe_init_std").asDouble(PAPER_INIT_STD));
    }

    private static int req(JsonNode o, String key, String file) {
        if (!o.hasNonNull(key)) {
            throw new IllegalArgumentException(file + ": key " + key + " is missing");
        }
        return o.get(key).asInt();
    }
}
