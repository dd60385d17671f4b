package org.sparkmoe.model.decoder;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sparkmoe.model.backend.DecayRanges;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.moe.ExpertPlacement;

/**
 * The canonical order of all parameters in the flat fp32 vector that the trainer averages and checkpoints store:
 * module order of the reference code ({@code model.embed_tokens}, then per layer input norm, q/k/v/o, post-attention
 * norm, MLP, then {@code model.norm}, {@code lm_head}). Inside an MoE layer the router comes first, then the routed
 * experts grouped by projection ({@code experts.0..E-1.gate_proj}, then all {@code up_proj}, then all
 * {@code down_proj}) so that each projection's experts form one contiguous {@code [E, out, in]} slab for the grouped
 * GEMM, then the fused shared experts.
 *
 * <p>An expert-parallel rank ({@link #of(ModelConfig, ExpertPlacement)}) holds only its block of routed experts: its
 * layout is every replicated parameter in canonical order (embedding, attention, norms, routers, shared experts,
 * head), then its experts in canonical order. Names stay those of the whole model ({@code experts.<e>} with the global
 * expert index), so checkpoints are read and written by name; the replicated parameters form one prefix, which the
 * data-parallel all-reduce averages in one call.
 */
public final class ParameterLayout {

    private final List<ParameterSpec> specs;
    private final Map<String, ParameterSpec> byName;
    private final long total;
    private final long replicated;

    private ParameterLayout(List<ParameterSpec> specs, long replicated) {
        this.replicated = replicated;
        this.specs = Collections.unmodifiableList(specs);
        this.byName = new LinkedHashMap<>();
        long end = 0;
        for (ParameterSpec s : specs) {
            byName.put(s.name(), s);
            end = s.offset() + s.size();
        }
        this.total = end;
    }

    /** The layout of {@code config}: the whole model. */
    public static ParameterLayout of(ModelConfig config) {
        return of(config, null);
    }

    /**
     * The layout of expert-parallel rank {@code placement} of {@code config}: the replicated parameters, then the
     * rank's routed experts; the whole model's canonical layout when {@code placement} is null.
     */
    public static ParameterLayout of(ModelConfig config, ExpertPlacement placement) {
        Builder b = new Builder();
        Builder experts = placement == null ? b : new Builder();
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
                int first = placement == null ? 0 : placement.firstExpert();
                int count = placement == null ? config.nRoutedExperts() : placement.localExperts();
                for (String proj : new String[] {"gate_proj", "up_proj", "down_proj"}) {
                    for (int e = first; e < first + count; e++) {
                        String name = p + "mlp.experts." + e + "." + proj + ".weight";
                        if (proj.equals("down_proj")) {
                            experts.add(name, d, ie);
                        } else {
                            experts.add(name, ie, d);
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
        if (placement == null) {
            return new ParameterLayout(b.specs, -1);
        }
        long replicated = b.offset;
        for (ParameterSpec s : experts.specs) {
            b.specs.add(new ParameterSpec(s.name(), s.shape(), replicated + s.offset(), s.decay()));
        }
        return new ParameterLayout(b.specs, replicated);
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

    /**
     * Where AdamW's weight decay applies: one range per run of consecutive parameters that agree on
     * {@link ParameterSpec#decay()}, covering the whole vector.
     */
    public DecayRanges decayRanges() {
        List<Long> ends = new ArrayList<>();
        List<Boolean> decayed = new ArrayList<>();
        for (ParameterSpec s : specs) {
            if (!decayed.isEmpty() && decayed.getLast() == s.decay()) {
                ends.set(ends.size() - 1, s.offset() + s.size());
            } else {
                ends.add(s.offset() + s.size());
                decayed.add(s.decay());
            }
        }
        boolean[] flags = new boolean[decayed.size()];
        for (int i = 0; i < flags.length; i++) {
            flags[i] = decayed.get(i);
        }
        return new DecayRanges(ends.stream().mapToLong(Long::longValue).toArray(), flags);
    }

    /** Whether this is an expert-parallel rank's layout (replicated prefix, then the rank's experts). */
    public boolean expertParallel() {
        return replicated >= 0;
    }

    /** An expert-parallel rank's replicated prefix: elements {@code [0, replicatedElements())}; the experts follow. */
    public long replicatedElements() {
        if (replicated < 0) {
            throw new IllegalStateException("the whole model's layout has no replicated prefix: its routed experts"
                    + " sit inside each layer");
        }
        return replicated;
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
