package org.sparkmoe.model.attention;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * Backward-only buffers of {@link CausalSelfAttention}, shared by every layer (layers run backward one at a time),
 * each {@code [R, D]}.
 */
public record AttentionScratch(Tensor dq_RD, Tensor dk_RD, Tensor dv_RD, Tensor dAtt_RD) {

    public static AttentionScratch allocate(Backend backend, int maxRows, int dim) {
        long n = (long) maxRows * dim;
        return new AttentionScratch(backend.allocate("dq", DType.F32, n), backend.allocate("dk", DType.F32, n),
                backend.allocate("dv", DType.F32, n), backend.allocate("dAtt", DType.F32, n));
    }
}
