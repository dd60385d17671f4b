package org.sparkmoe.model.ffn;

import org.sparkmoe.model.backend.Tensor;

/**
 * The MLP half of a decoder layer: a dense {@link SwiGluFfn} or an MoE layer. Forward overwrites {@code out};
 * backward accumulates parameter gradients and overwrites {@code dx}.
 *
 * <p>Legend: x, out, dOut, dx {@code [R, D]} with R = batch·seqLen; tokens_R int32 (hash routing reads them).
 */
public interface FeedForward {

    void forward(Tensor x_RD, Tensor out_RD, Tensor tokens_R, int batch, int seqLen, boolean training);

    void backward(Tensor dOut_RD, Tensor x_RD, Tensor dx_RD, int batch, int seqLen);

    /** A dense SwiGLU as a {@link FeedForward}. */
    static FeedForward dense(SwiGluFfn ffn) {
        return new FeedForward() {
            @Override
            public void forward(Tensor x_RD, Tensor out_RD, Tensor tokens_R, int batch, int seqLen, boolean training) {
                ffn.forward(x_RD, out_RD, batch * seqLen, false);
            }

            @Override
            public void backward(Tensor dOut_RD, Tensor x_RD, Tensor dx_RD, int batch, int seqLen) {
                ffn.backward(dOut_RD, x_RD, dx_RD, batch * seqLen, false);
            }
        };
    }
}
