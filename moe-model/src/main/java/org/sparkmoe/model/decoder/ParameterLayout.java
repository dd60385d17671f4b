package org.sparkmoe.model.decoder;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkmoe.model.config.ModelConfig;

/**
 * The canonical order of all parameters in the flat fp32 vector that the trainer averages and checkpoints store:
 * module order of the reference code ({@code model.embed_tokens}, then per layer input norm, q/k/v/o, post-attention
 * norm, MLP, then {@code model.norm}, {@code lm_head}). Inside an MoE layer the router comes first, then the routed
 * experts grouped by projection ({@code experts.0..E-1.gate_proj}, then all {@code up_proj}, then all
 * {@code down_proj}) so that each projection's experts form one contiguous {@code [E, out, in]} slab for the grouped
 * GEMM, then the fused shared experts.
 */
public final class ParameterLayout {

    private final List<ParameterSpec> specs;
    private final Map<String, ParameterSpec> byName;
    private final long total;

    private ParameterLayout(List<ParameterSpec> specs) {
        this.specs = Collections.unmodifiableList(specs);
        this.byName = new LinkedHashMap<>();
        long end = 0;
        for (ParameterSpec s : specs) {
            byName.put(s.name(), s);
            end = s.offset() + s.size();
        }
        this.total = end;
    }

    /** The layout of {@code config}. */
    public static ParameterLayout of(ModelConfig config) {
        Builder b = new Builder();
        int d = config.hiddenSize();
        b.add("model.embed_tokens.weight", config.vocabSize(), d);
        for (int l = 0; l < config.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            b.add(p + "input_layernorm.weight", d);
            for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"}) {
                b.add(p + "self_attn." + proj + ".weight", d, d);
            }
            b.add(p + "post_attention_layernorm.weight", d);
            if (config.isMoeLayer(l)) {
                if (config.hasRouterWeights()) {
                    b.add(p + "mlp.gate.weight", config.nRoutedExperts(), d);
                }
                int ie = config.moeIntermediateSize();
                for (String proj : new String[] {"gate_proj", "up_proj", "down_proj"}) {
                    for (int e = 0; e < config.nRoutedExperts(); e++) {
                        String name = p + "mlp.experts." + e + "." + proj + ".weight";
                        if (proj.equals("down_proj")) {
                            b.add(name, d, ie);
                        } else {
                            b.add(name, ie, d);
                        }
                    }
                }
                int is = config.sharedIntermediateSize();
                if (is > 0) {
                    b.add(p + "mlp.shared_experts.gate_proj.weight", is, d);
                    b.add(p + "mlp.shared_experts.up_proj.weight", is, d);
                    b.add(p + "mlp.shared_experts.down_proj.weight", d, is);
                }
            } else {
                int id = config.intermediateSize();
                b.add(p + "mlp.gate_proj.weight", id, d);
                b.add(p + "mlp.up_proj.weight", id, d);
                b.add(p + "mlp.down_proj.weight", d, id);
            }
        }
        b.add("model.norm.weight", d);
        b.add("lm_head.weight", config.vocabSize(), d);
        return new ParameterLayout(b.specs);
    }

    /** All parameters in canonical order. */
    public List<ParameterSpec> specs() {
        return specs;
    }

    /** The parameter called {@code name}. */
    public ParameterSpec get(String name) {
        ParameterSpec s = byName.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no parameter named " + name + " in this model");
        }
        return s;
    }

    /** Whether a parameter called {@code name} exists. */
    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** Total number of fp32 elements. */
    public long totalElements() {
        return total;
    }

    private static final class Builder {
        final List<ParameterSpec> specs = new ArrayList<>();
        long offset;

        void add(String name, int... shape) {
            ParameterSpec s = new ParameterSpec(name, shape, offset, shape.length > 1);
            specs.add(s);
            offset += s.size();
        }
    }
}
