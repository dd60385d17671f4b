package org.sparkmoe.model.config;

/**
 * How an MoE layer picks experts for a token. The paper's baselines are the same engine with a different routing:
 * Dense has no MoE layers, Switch is {@link #SOFTMAX_TOPK} with top-1, GShard with top-2, Hash Layer is {@link #HASH}.
 */
public enum Routing {
    /** No MoE layers: every FFN is the dense SwiGLU of {@code intermediate_size}. */
    DENSE,
    /** Learned router: softmax over the routed experts' logits, top-K, gate weight = probability (DeepSeekMoE). */
    SOFTMAX_TOPK,
    /** Hash Layer: top-1 expert = a fixed hash of the token id, gate weight 1, no router parameters. */
    HASH;

    /** Parses the preset spelling ({@code dense}, {@code softmax-topk}, {@code hash}). */
    public static Routing parse(String text) {
        return switch (text.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "dense" -> DENSE;
            case "softmax-topk", "softmax" -> SOFTMAX_TOPK;
            case "hash" -> HASH;
            default -> throw new IllegalArgumentException(
                    "routing '" + text + "' is not known: use dense, softmax-topk or hash");
        };
    }

    /** The preset spelling. */
    public String spelling() {
        return switch (this) {
            case DENSE -> "dense";
            case SOFTMAX_TOPK -> "softmax-topk";
            case HASH -> "hash";
        };
    }
}
