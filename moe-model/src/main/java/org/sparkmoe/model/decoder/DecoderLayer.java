package org.sparkmoe.model.decoder;

import java.util.function.Consumer;
import org.sparkmoe.model.attention.CausalSelfAttention;
import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.ffn.FeedForward;
import org.sparkmoe.model.norm.RmsNorm;

/**
 * A pre-norm decoder layer: {@code x_mid = x + attn(norm1(x))}, {@code x_out = x_mid + mlp(norm2(x_mid))}, with
 * each residual add fused into the norm that follows it ({@link RmsNorm#forwardResidual}): the attention's add runs
 * with norm2, and the MLP's add is left to the next layer's norm1 (or the model's final norm), so the layer's input
 * arrives as two tensors to add and its output leaves as two. Saves x_mid for backward; the layer input x is written
 * into a buffer the model keeps. The norms' outputs xn1 and xn2 are kept by no layer: backward computes each again
 * from the input the norm keeps anyway (the forward's own op on the same input, so the same bits), into one buffer all
 * layers share, at the cost of two norm passes per layer instead of two [R, D] activations per layer.
 *
 * <p>Legend: all activations {@code [R, D]}. {@code tmp_RD}, {@code dXn_RD} and {@code xn_RD} are shared by all
 * layers.
 */
final class DecoderLayer {

    private final RmsNorm norm1;
    private final CausalSelfAttention attention;
    private final RmsNorm norm2;
    private final FeedForward mlp;
    private final Tensor xn_RD;
    private final Tensor xMid_RD;
    private final PhaseTimer timer;
    private final PhaseTimer.Phase mlpPhase;

    /** {@code xn_RD} holds each norm's output while its block runs, for every layer of the model. */
    DecoderLayer(Activations activations, RmsNorm norm1, CausalSelfAttention attention, RmsNorm norm2, FeedForward mlp,
                 Tensor xn_RD, long activationElements, PhaseTimer timer, PhaseTimer.Phase mlpPhase) {
        this.timer = timer;
        this.mlpPhase = mlpPhase;
        this.norm1 = norm1;
        this.attention = attention;
        this.norm2 = norm2;
        this.mlp = mlp;
        this.xn_RD = xn_RD;
        this.xMid_RD = activations.layer("x_mid", DType.F32, activationElements);
    }

    FeedForward mlp() {
        return mlp;
    }

    /**
     * The first of the two tensors whose sum is the layer's output after {@link #forward}: {@code x_mid}; the other
     * is the MLP's output, left in {@code tmp_RD}.
     */
    Tensor outputBase() {
        return xMid_RD;
    }

    /**
     * The layer on input {@code x = previousBase + tmp_RD} (the previous layer's two output tensors: the sum is
     * written into {@code x_RD}, fused with norm1), or on {@code x_RD} as it is when {@code previousBase} is null (the
     * first layer, after the embedding). Leaves the output as {@link #outputBase()} + {@code tmp_RD}.
     */
    void forward(Tensor previousBase_RD, Tensor x_RD, Tensor tokens_R, Tensor tmp_RD, int batch, int seqLen,
                 boolean training) {
        forward(previousBase_RD, x_RD, tokens_R, tmp_RD, batch, seqLen, training,
                xn1 -> attention.forward(xn1, tmp_RD, batch, seqLen));
    }

    /**
     * The forward of {@code rows} new tokens against this layer's part of a KV cache (generation; see
     * {@link CausalSelfAttention#forwardCached}), with input and output as {@link #forward}'s. The MLP sees the rows
     * as one sequence: it is per token.
     */
    void forwardCached(Tensor previousBase_RD, Tensor x_RD, Tensor tokens_R, Tensor tmp_RD, int rows,
                       Tensor kCache_SCD, Tensor vCache_SCD, Tensor slots_R, Tensor positions_R) {
        forward(previousBase_RD, x_RD, tokens_R, tmp_RD, 1, rows, false,
                xn1 -> attention.forwardCached(xn1, tmp_RD, rows, kCache_SCD, vCache_SCD, slots_R, positions_R));
    }

    /** The layer with {@code attend} writing the attention of the normed input into {@code tmp_RD}. */
    private void forward(Tensor previousBase_RD, Tensor x_RD, Tensor tokens_R, Tensor tmp_RD, int batch, int seqLen,
                         boolean training, Consumer<Tensor> attend) {
        int rows = batch * seqLen;
        if (previousBase_RD == null) {
            norm1.forward(x_RD, xn_RD, rows);
        } else {
            norm1.forwardResidual(previousBase_RD, tmp_RD, x_RD, xn_RD, rows);
        }
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.ATTENTION);
        attend.accept(xn_RD);
        timer.exit(outer);
        norm2.forwardResidual(x_RD, tmp_RD, xMid_RD, xn_RD, rows);
        outer = timer.enter(mlpPhase);
        mlp.forward(xn_RD, tmp_RD, tokens_R, batch, seqLen, training);
        timer.exit(outer);
    }

    /** {@code dResid} holds ∂L/∂x_out on entry and ∂L/∂x on return. */
    void backward(Tensor dResid_RD, Tensor x_RD, Tensor dXn_RD, int batch, int seqLen) {
        int rows = batch * seqLen;
        // The forward's norms again (an add fused before a norm leaves its sum as the norm's kept input).
        norm2.forward(xMid_RD, xn_RD, rows);
        PhaseTimer.Phase outer = timer.enter(mlpPhase);
        mlp.backward(dResid_RD, xn_RD, dXn_RD, batch, seqLen);
        timer.exit(outer);
        norm2.backward(dXn_RD, xMid_RD, dResid_RD, rows);
        norm1.forward(x_RD, xn_RD, rows);
        outer = timer.enter(PhaseTimer.Phase.ATTENTION);
        attention.backward(dResid_RD, xn_RD, dXn_RD, batch, seqLen);
        timer.exit(outer);
        norm1.backward(dXn_RD, x_RD, dResid_RD, rows);
    }
}
