package org.sparkmoe.jobs.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Locale;
import java.util.Set;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelSize;
import org.sparkmoe.model.train.MemoryEstimate;

/**
 * {@code sparkmoe model-info --model NAME [--json] [--KEY VALUE]...}: total and activated parameters and FLOPs per
 * token of a preset, or of a preset with model config keys overridden ({@code --num_hidden_layers 4}).
 */
public final class ModelInfoJob implements Job {

    @Override
    public String name() {
        return "model-info";
    }

    @Override
    public String summary() {
        return "print a model preset's total/activated parameters and training FLOPs per token";
    }

    /** Model config keys ({@code --num_hidden_layers 4}) override the preset's values. */
    @Override
    public Set<String> overrideKeys() {
        return ModelSpec.KEYS;
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        ModelConfig config = ModelSpec.resolve(settings.string("model"), settings.overrides(),
                JobHadoop.forJob(settings)).config();
        ModelSize size = ModelSize.of(config);
        if (settings.bool("json")) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("model", config.name());
            o.put("total_params", size.totalParams());
            o.put("activated_params", size.activatedParams());
            o.put("flops_per_token", size.flopsPerToken());
            o.put("seq_len", config.maxSeqLen());
            o.put("layers", config.numLayers());
            o.put("moe_layers", config.moeLayerCount());
            o.put("training_tensor_bytes", MemoryEstimate.tensors(config, 1, true).tensorBytes());
            o.put("inference_tensor_bytes", MemoryEstimate.tensors(config, 1, false).tensorBytes());
            System.out.println(new ObjectMapper().writeValueAsString(o));
        } else {
            System.out.print(table(config, size));
        }
        return 0;
    }

    static String table(ModelConfig c, ModelSize s) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "model %s: %d layers (%d MoE), width %d, %d heads, vocab %d, seq %d%n",
                c.name(), c.numLayers(), c.moeLayerCount(), c.hiddenSize(), c.numHeads(), c.vocabSize(),
                c.maxSeqLen()));
        if (c.moeLayerCount() > 0) {
            out.append(String.format(Locale.ROOT,
                    "experts: %d shared + %d routed, top-%d, expert width %d, routing %s%n",
                    c.nSharedExperts(), c.nRoutedExperts(), c.numExpertsPerTok(), c.moeIntermediateSize(),
                    c.routing().spelling()));
        }
        out.append(String.format(Locale.ROOT, "total params      %,d (%s)%n", s.totalParams(),
                ModelSize.billions(s.totalParams())));
        out.append(String.format(Locale.ROOT, "activated params  %,d (%s)%n", s.activatedParams(),
                ModelSize.billions(s.activatedParams())));
        out.append(String.format(Locale.ROOT, "FLOPs per token   %.4g (training, 6N + 12·L·d·T)%n",
                s.flopsPerToken()));
        out.append(String.format(Locale.ROOT, "FLOPs per %d-token sequence %.4gT%n", c.maxSeqLen(),
                s.flopsPerToken() * c.maxSeqLen() / 1e12));
        MemoryEstimate training = MemoryEstimate.tensors(c, 1, true);
        MemoryEstimate inference = MemoryEstimate.tensors(c, 1, false);
        out.append(String.format(Locale.ROOT, "engine tensors, micro-batch 1 x %d, before backend workspace:%n",
                c.maxSeqLen()));
        out.append(String.format(Locale.ROOT, "  training   %s (16 bytes/parameter: fp32 weights, gradients, AdamW m"
                + " and v)%n", training));
        out.append(String.format(Locale.ROOT, "  inference  %s (4 bytes/parameter, one layer's activations)%n",
                inference));
        return out.toString();
    }
}
