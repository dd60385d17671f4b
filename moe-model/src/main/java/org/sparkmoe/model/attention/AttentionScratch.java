package org.sparkmoe.model.attention;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * Buffers of {@link CausalSelfAttention} that every layer of a training model shares (layers run backward one at a
 * time), each {@code [R, D]}: the backward's dq, dk, dv, dAtt and, when the layers recompute their projections in
 * backward, q, k (after RoPE) and v, which every layer's forward writes there too (null when each layer keeps its
 * own).
 */
public record AttentionScratch(Tensor dq_RD, Tensor dk_RD, Tensor dv_RD, Tensor dAtt_RD, Tensor q_RD, Tensor k_RD,
                               Tensor v_RD) {

    /** The buffers for {@code maxRows} rows of width {@code dim}; q, k, v among them if {@code recompute}. */
    public static AttentionScratch allocate(Backend backend, int maxRows, int dim, boolean recompute) {
        long n = (long) maxRows * dim;
        return new AttentionScratch(backend.allocate("dq", DType.F32, n), backend.allocate("dk", DType.F32, n),
                backend.allocate("dv", DType.F32, n), backend.allocate("dAtt", DType.F32, n),
                recompute ? backend.allocate("q", DType.F32, n) : null,
                recompute ? backend.allocate("k", DType.F32, n) : null,
                recompute ? backend.allocate("v", DType.F32, n) : null);
    }

    /** Whether the layers recompute q, k, v in backward (they live here, not per layer). */
    public boolean recomputesProjections() {
        return q_RD != null;
    }
}
